"""The training engine: everything between a validated fit and the torch network.

Nothing here knows about scikit-learn; :class:`~skmnist.MLPDigitClassifier`
hands over validated arrays and settings.
"""
