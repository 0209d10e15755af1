"""Model importers that need no torch: ONNX files (``onnx_import``) and the node patterns both
importers share (``emit``).  The torch.export exporter lives in ``itnet_export``."""
