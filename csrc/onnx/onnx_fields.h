/*
 * onnx_fields.h - field numbers of the ONNX protobuf messages we read (onnx.proto, IR 10),
 * written once as X-macros: X(number, UPPER_NAME, "proto_name"). From each list we get the
 * enum constants (EI_ONNX_<MESSAGE>_<FIELD>) and a name table for error messages.
 */
#ifndef EI_ONNX_FIELDS_H
#define EI_ONNX_FIELDS_H

#define EI_ONNX_MODEL_FIELDS(X)                                                                    \
    X(1, IR_VERSION, "ir_version")                                                                 \
    X(2, PRODUCER_NAME, "producer_name")                                                           \
    X(3, PRODUCER_VERSION, "producer_version")                                                     \
    X(4, DOMAIN, "domain")                                                                         \
    X(5, MODEL_VERSION, "model_version")                                                           \
    X(6, DOC_STRING, "doc_string")                                                                 \
    X(7, GRAPH, "graph")                                                                           \
    X(8, OPSET_IMPORT, "opset_import")                                                             \
    X(14, METADATA_PROPS, "metadata_props")                                                        \
    X(20, TRAINING_INFO, "training_info")                                                          \
    X(25, FUNCTIONS, "functions")                                                                  \
    X(26, CONFIGURATION, "configuration")

#define EI_ONNX_OPSET_FIELDS(X)                                                                    \
    X(1, DOMAIN, "domain")                                                                         \
    X(2, VERSION, "version")

#define EI_ONNX_GRAPH_FIELDS(X)                                                                    \
    X(1, NODE, "node")                                                                             \
    X(2, NAME, "name")                                                                             \
    X(5, INITIALIZER, "initializer")                                                               \
    X(10, DOC_STRING, "doc_string")                                                                \
    X(11, INPUT, "input")                                                                          \
    X(12, OUTPUT, "output")                                                                        \
    X(13, VALUE_INFO, "value_info")                                                                \
    X(14, QUANTIZATION_ANNOTATION, "quantization_annotation")                                      \
    X(15, SPARSE_INITIALIZER, "sparse_initializer")                                                \
    X(16, METADATA_PROPS, "metadata_props")

#define EI_ONNX_NODE_FIELDS(X)                                                                     \
    X(1, INPUT, "input")                                                                           \
    X(2, OUTPUT, "output")                                                                         \
    X(3, NAME, "name")                                                                             \
    X(4, OP_TYPE, "op_type")                                                                       \
    X(5, ATTRIBUTE, "attribute")                                                                   \
    X(6, DOC_STRING, "doc_string")                                                                 \
    X(7, DOMAIN, "domain")                                                                         \
    X(8, OVERLOAD, "overload")                                                                     \
    X(9, METADATA_PROPS, "metadata_props")                                                         \
    X(10, DEVICE_CONFIGURATIONS, "device_configurations")

#define EI_ONNX_ATTR_FIELDS(X)                                                                     \
    X(1, NAME, "name")                                                                             \
    X(2, F, "f")                                                                                   \
    X(3, I, "i")                                                                                   \
    X(4, S, "s")                                                                                   \
    X(5, T, "t")                                                                                   \
    X(6, G, "g")                                                                                   \
    X(7, FLOATS, "floats")                                                                         \
    X(8, INTS, "ints")                                                                             \
    X(9, STRINGS, "strings")                                                                       \
    X(10, TENSORS, "tensors")                                                                      \
    X(11, GRAPHS, "graphs")                                                                        \
    X(13, DOC_STRING, "doc_string")                                                                \
    X(14, TP, "tp")                                                                                \
    X(15, TYPE_PROTOS, "type_protos")                                                              \
    X(20, TYPE, "type")                                                                            \
    X(21, REF_ATTR_NAME, "ref_attr_name")                                                          \
    X(22, SPARSE_TENSOR, "sparse_tensor")                                                          \
    X(23, SPARSE_TENSORS, "sparse_tensors")

#define EI_ONNX_TENSOR_FIELDS(X)                                                                   \
    X(1, DIMS, "dims")                                                                             \
    X(2, DATA_TYPE, "data_type")                                                                   \
    X(3, SEGMENT, "segment")                                                                       \
    X(4, FLOAT_DATA, "float_data")                                                                 \
    X(5, INT32_DATA, "int32_data")                                                                 \
    X(6, STRING_DATA, "string_data")                                                               \
    X(7, INT64_DATA, "int64_data")                                                                 \
    X(8, NAME, "name")                                                                             \
    X(9, RAW_DATA, "raw_data")                                                                     \
    X(10, DOUBLE_DATA, "double_data")                                                              \
    X(11, UINT64_DATA, "uint64_data")                                                              \
    X(12, DOC_STRING, "doc_string")                                                                \
    X(13, EXTERNAL_DATA, "external_data")                                                          \
    X(14, DATA_LOCATION, "data_location")                                                          \
    X(16, METADATA_PROPS, "metadata_props")

#define EI_ONNX_ENTRY_FIELDS(X) /* StringStringEntryProto */                                       \
    X(1, KEY, "key")                                                                               \
    X(2, VALUE, "value")

#define EI_ONNX_VALUE_INFO_FIELDS(X)                                                               \
    X(1, NAME, "name")                                                                             \
    X(2, TYPE, "type")                                                                             \
    X(3, DOC_STRING, "doc_string")                                                                 \
    X(4, METADATA_PROPS, "metadata_props")

#define EI_ONNX_TYPE_FIELDS(X)                                                                     \
    X(1, TENSOR_TYPE, "tensor_type")                                                               \
    X(4, SEQUENCE_TYPE, "sequence_type")                                                           \
    X(5, MAP_TYPE, "map_type")                                                                     \
    X(6, DENOTATION, "denotation")                                                                 \
    X(7, OPAQUE_TYPE, "opaque_type")                                                               \
    X(8, SPARSE_TENSOR_TYPE, "sparse_tensor_type")                                                 \
    X(9, OPTIONAL_TYPE, "optional_type")

#define EI_ONNX_TENSOR_TYPE_FIELDS(X) /* TypeProto.Tensor */                                       \
    X(1, ELEM_TYPE, "elem_type")                                                                   \
    X(2, SHAPE, "shape")

#define EI_ONNX_SHAPE_FIELDS(X) /* TensorShapeProto */ X(1, DIM, "dim")

#define EI_ONNX_DIM_FIELDS(X) /* TensorShapeProto.Dimension */                                     \
    X(1, DIM_VALUE, "dim_value")                                                                   \
    X(2, DIM_PARAM, "dim_param")                                                                   \
    X(3, DENOTATION, "denotation")

/* Enum constants, e.g. EI_ONNX_TENSOR_RAW_DATA = 9. */
#define EI_ONNX_ENUM_(prefix, num, up, str) EI_ONNX_##prefix##_##up = num,
#define EI_ONNX_X_MODEL(n, u, s) EI_ONNX_ENUM_(MODEL, n, u, s)
#define EI_ONNX_X_OPSET(n, u, s) EI_ONNX_ENUM_(OPSET, n, u, s)
#define EI_ONNX_X_GRAPH(n, u, s) EI_ONNX_ENUM_(GRAPH, n, u, s)
#define EI_ONNX_X_NODE(n, u, s) EI_ONNX_ENUM_(NODE, n, u, s)
#define EI_ONNX_X_ATTR(n, u, s) EI_ONNX_ENUM_(ATTR, n, u, s)
#define EI_ONNX_X_TENSOR(n, u, s) EI_ONNX_ENUM_(TENSOR, n, u, s)
#define EI_ONNX_X_ENTRY(n, u, s) EI_ONNX_ENUM_(ENTRY, n, u, s)
#define EI_ONNX_X_VALUE_INFO(n, u, s) EI_ONNX_ENUM_(VALUE_INFO, n, u, s)
#define EI_ONNX_X_TYPE(n, u, s) EI_ONNX_ENUM_(TYPE, n, u, s)
#define EI_ONNX_X_TENSOR_TYPE(n, u, s) EI_ONNX_ENUM_(TENSOR_TYPE, n, u, s)
#define EI_ONNX_X_SHAPE(n, u, s) EI_ONNX_ENUM_(SHAPE, n, u, s)
#define EI_ONNX_X_DIM(n, u, s) EI_ONNX_ENUM_(DIM, n, u, s)

enum ei_onnx_model_field { EI_ONNX_MODEL_FIELDS(EI_ONNX_X_MODEL) };
enum ei_onnx_opset_field { EI_ONNX_OPSET_FIELDS(EI_ONNX_X_OPSET) };
enum ei_onnx_graph_field { EI_ONNX_GRAPH_FIELDS(EI_ONNX_X_GRAPH) };
enum ei_onnx_node_field { EI_ONNX_NODE_FIELDS(EI_ONNX_X_NODE) };
enum ei_onnx_attr_field { EI_ONNX_ATTR_FIELDS(EI_ONNX_X_ATTR) };
enum ei_onnx_tensor_field { EI_ONNX_TENSOR_FIELDS(EI_ONNX_X_TENSOR) };
enum ei_onnx_entry_field { EI_ONNX_ENTRY_FIELDS(EI_ONNX_X_ENTRY) };
enum ei_onnx_value_info_field { EI_ONNX_VALUE_INFO_FIELDS(EI_ONNX_X_VALUE_INFO) };
enum ei_onnx_type_field { EI_ONNX_TYPE_FIELDS(EI_ONNX_X_TYPE) };
enum ei_onnx_tensor_type_field { EI_ONNX_TENSOR_TYPE_FIELDS(EI_ONNX_X_TENSOR_TYPE) };
enum ei_onnx_shape_field { EI_ONNX_SHAPE_FIELDS(EI_ONNX_X_SHAPE) };
enum ei_onnx_dim_field { EI_ONNX_DIM_FIELDS(EI_ONNX_X_DIM) };

/* Name tables indexed by field number (NULL for numbers we do not know), for errors. */
#define EI_ONNX_NAME_(n, u, s) [n] = s,

/* TensorProto.DataLocation */
enum { EI_ONNX_DATA_LOCATION_DEFAULT = 0, EI_ONNX_DATA_LOCATION_EXTERNAL = 1 };

#endif /* EI_ONNX_FIELDS_H */
