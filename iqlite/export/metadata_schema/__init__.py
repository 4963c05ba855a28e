"""The TFLite Metadata Schema and the Python code flatc generates from it; export/metadata.py is their user.

metadata_schema.fbs: the official schema (namespace `tflite`, file identifier "M001", root table `ModelMetadata`,
"Schema Semantic version: 1.5.0"), unchanged from the tflite-support 0.4.4 wheel, under its Apache-2.0 licence
header (The TensorFlow Authors). metadata_schema_py_generated.py: `flatc --python --gen-object-api --gen-onefile`
output for it, the way `ai_edge_litert.schema_py_generated` is for the model schema. Both are written by
scripts/generate_metadata_schema.sh: do not edit them, rerun the script.
"""
