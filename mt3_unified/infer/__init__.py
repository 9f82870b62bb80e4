"""Inference on one's own files: restoring a trained model, reading inputs, decoding, writing outputs."""  # noqa: E501
