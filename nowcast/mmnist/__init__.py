"""Moving MNIST harness: digits, sequence generator, fixed test set, training, scoring, report."""
