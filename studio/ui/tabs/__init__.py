"""The four tabs of the main window: dataset, model, train, explore."""
