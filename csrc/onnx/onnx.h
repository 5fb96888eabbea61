/*
 * onnx.h - ONNX ModelProto bytes -> ei_model (graph IR). The only module that knows
 * protobuf; it validates structure (bounds, wire types, sizes vs shapes) but not op
 * semantics, which ops/ check.
 */
#ifndef EI_ONNX_H
#define EI_ONNX_H

#include "core/core.h"

/* Parses a serialized ModelProto. Tensor data is copied (the buffer may be freed
 * afterwards). External data is read from files under base_dir only: absolute
 * locations, ".." components and symbolic links leaving base_dir are rejected;
 * base_dir NULL rejects external data. Errors name the message, field and byte offset.
 * Returns INVALID_MODEL, IO, UNSUPPORTED (e.g. unknown dtype) or OUT_OF_MEMORY. */
ei_status ei_onnx_parse(const void *data, size_t size, const char *base_dir, ei_model **out);

/* ei_onnx_parse over bytes that ei_map_file mapped (mapped = true): each tensor's pages
 * are dropped from memory once copied, which keeps the peak memory of loading a model
 * near the size of its weights instead of twice that. */
ei_status ei_onnx_parse_ex(const void *data, size_t size, const char *base_dir, bool mapped,
                           ei_model **out);

/* Maps a regular, non-empty file read-only (false, and no error set, when it cannot:
 * then read it with ei_read_file, which reports why). Unmap with ei_unmap_file. */
bool ei_map_file(const char *path, void **out, size_t *size);
void ei_unmap_file(void *data, size_t size);

/* Reads a whole file (IO error naming the path). *out is malloc'd. */
ei_status ei_read_file(const char *path, void **out, size_t *size);

#endif /* EI_ONNX_H */
