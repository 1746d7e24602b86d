"""Pure tagging: which country an article is about, and which day it belongs to."""
