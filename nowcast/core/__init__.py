"""The ground every stage stands on: errors, time, atomic files, strict models, scores."""
