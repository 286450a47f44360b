"""Keras layers written from the equations of the lectures."""

from garden.layers.attention import AdditiveAttention, LateFusion
from garden.layers.bag_of_words import BagOfWords, NaiveBayesLogit, NGramIds
from garden.layers.bilm_features import BiLMFeatures, VocabularyMap
from garden.layers.deep_rnn import DeepRNN
from garden.layers.embedding import SubwordEmbedding, TokenEmbedding
from garden.layers.gru import GRU, GRUCell
from garden.layers.lstm import LSTM, LSTMCell
from garden.layers.pooling import ConcatPooling, FirstAndLastSteps
from garden.layers.recurrent import cell_loops_only
from garden.layers.regularization import ActivationRegularization, EmbeddingDropout
from garden.layers.reversal import ReverseSequence, ReverseValidSteps
from garden.layers.scalar_mix import ScalarMix
from garden.layers.simple_rnn import SimpleRNN, SimpleRNNCell
from garden.layers.states import ZeroStates
from garden.layers.text_cnn import TextCNN
from garden.layers.tree import TreeLSTM, TreeRNN

__all__ = [
    "ActivationRegularization",
    "AdditiveAttention",
    "BagOfWords",
    "BiLMFeatures",
    "GRU",
    "DeepRNN",
    "EmbeddingDropout",
    "ConcatPooling",
    "FirstAndLastSteps",
    "GRUCell",
    "LSTM",
    "LSTMCell",
    "LateFusion",
    "NaiveBayesLogit",
    "NGramIds",
    "ReverseSequence",
    "ReverseValidSteps",
    "ScalarMix",
    "SimpleRNN",
    "SimpleRNNCell",
    "SubwordEmbedding",
    "TextCNN",
    "TokenEmbedding",
    "TreeLSTM",
    "TreeRNN",
    "VocabularyMap",
    "ZeroStates",
    "cell_loops_only",
]
