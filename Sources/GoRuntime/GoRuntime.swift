import Symbols
