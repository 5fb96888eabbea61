/*
 * _core.c - the CPython/NumPy binding of edgeinfer: converts Python objects to the public
 * C API's types, calls it, converts back. It uses edgeinfer.h only (never the engine's
 * internals) and is the only file of the project that includes Python.h or NumPy.
 * Status -> exception mapping lives in one function, raise_status().
 * The onnxruntime-shaped API (InferenceSession, NodeArg, ...) is Python, in edgeinfer/.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pythread.h>

#include <numpy/arrayobject.h>

#include <stdio.h>
#include <string.h>

#include "edgeinfer/edgeinfer.h"

#if PY_VERSION_HEX < 0x030A0000 /* Py_NewRef is 3.10+ */
static inline PyObject *ei_py_newref(PyObject *o) {
    Py_INCREF(o);
    return o;
}
#define Py_NewRef(o) ei_py_newref((PyObject *)(o))
#endif

/* ------------------------------------------------------------ exceptions */

static PyObject *EdgeInferError;
static PyObject *InvalidArgument;
static PyObject *InvalidModel;
static PyObject *Unsupported;
static PyObject *IndexOutOfRange;
static PyObject *OutOfMemory;
static PyObject *EngineIOError;

/* Number of input arrays the binding had to copy into a C-contiguous, aligned, native
 * layout. Tests read it to prove that well-formed inputs are passed with no copy.
 * Only touched with the GIL held. */
static Py_ssize_t input_copies;

/* The one place where an ei_status becomes a Python exception. The message is the
 * engine's (thread-local: call it on the thread that saw the failure). Returns NULL. */
static PyObject *raise_status(ei_status st) {
    PyObject *type = NULL;
    switch (st) {
    case EI_STATUS_INVALID_ARGUMENT: type = InvalidArgument; break;
    case EI_STATUS_INVALID_MODEL: type = InvalidModel; break;
    case EI_STATUS_UNSUPPORTED: type = Unsupported; break;
    case EI_STATUS_OUT_OF_MEMORY: type = OutOfMemory; break;
    case EI_STATUS_IO: type = EngineIOError; break;
    case EI_STATUS_INDEX_OUT_OF_RANGE: type = IndexOutOfRange; break;
    default: break; /* INTERNAL, or a status this binding does not know */
    }
    const char *msg = ei_last_error();
    if (!msg || !msg[0]) msg = ei_status_name(st);
    if (type)
        PyErr_Format(type, "%s", msg); /* decodes with 'replace': names from a model may not be UTF-8 */
    else
        PyErr_Format(EdgeInferError, "%s (%s: this is a bug in edgeinfer, please report it)", msg,
                     ei_status_name(st));
    return NULL;
}

/* --------------------------------------------------------------- dtypes */

/* NumPy type number of an engine dtype, or -1 when NumPy has no such type. */
static int npy_type_of(ei_dtype dt) {
    switch (dt) {
    case EI_DTYPE_F32: return NPY_FLOAT32;
    case EI_DTYPE_U8: return NPY_UINT8;
    case EI_DTYPE_I8: return NPY_INT8;
    case EI_DTYPE_U16: return NPY_UINT16;
    case EI_DTYPE_I16: return NPY_INT16;
    case EI_DTYPE_I32: return NPY_INT32;
    case EI_DTYPE_I64: return NPY_INT64;
    case EI_DTYPE_BOOL: return NPY_BOOL;
    case EI_DTYPE_F16: return NPY_FLOAT16;
    case EI_DTYPE_F64: return NPY_FLOAT64;
    case EI_DTYPE_U32: return NPY_UINT32;
    case EI_DTYPE_U64: return NPY_UINT64;
    default: return -1; /* string, bfloat16, undefined */
    }
}

/* Engine dtypes NumPy lacks, which the ml_dtypes package (which onnx uses) registers. One
 * row per dtype; the name is both the ml_dtypes attribute and its scalar type's name. */
static const struct {
    ei_dtype dtype;
    const char *name;
} ml_types[] = {
    {EI_DTYPE_BF16, "bfloat16"},
    {EI_DTYPE_F8E4M3FN, "float8_e4m3fn"},
    {EI_DTYPE_F8E4M3FNUZ, "float8_e4m3fnuz"},
    {EI_DTYPE_F8E5M2, "float8_e5m2"},
    {EI_DTYPE_F8E5M2FNUZ, "float8_e5m2fnuz"},
    {EI_DTYPE_F8E8M0, "float8_e8m0fnu"},
    {EI_DTYPE_U4, "uint4"}, /* sub-byte: one value per byte in NumPy, packed for the engine */
    {EI_DTYPE_I4, "int4"},
    {EI_DTYPE_F4E2M1, "float4_e2m1fn"},
    {EI_DTYPE_U2, "uint2"},
    {EI_DTYPE_I2, "int2"},
};

/* Packed sub-byte dtype: NumPy (ml_dtypes) holds one element per byte, the engine packs. */
static int is_packed(ei_dtype dt) { return ei_dtype_bits(dt) % 8 != 0; }

static const char *ml_name_of(ei_dtype dt) {
    for (size_t i = 0; i < sizeof ml_types / sizeof ml_types[0]; i++)
        if (ml_types[i].dtype == dt) return ml_types[i].name;
    return NULL;
}

/* A new reference to the ml_dtypes descriptor of dt, or NULL with an exception (ml_dtypes
 * missing, or dt not one of ml_types). */
static PyArray_Descr *ml_descr(ei_dtype dt) {
    const char *name = ml_name_of(dt);
    if (!name) {
        PyErr_Format(Unsupported, "dtype %s cannot be passed to or from Python", ei_dtype_name(dt));
        return NULL;
    }
    PyObject *mod = PyImport_ImportModule("ml_dtypes");
    if (!mod) {
        PyErr_Clear();
        PyErr_Format(Unsupported, "%s tensors need the ml_dtypes package (pip install ml_dtypes)",
                     ei_dtype_name(dt));
        return NULL;
    }
    PyObject *type = PyObject_GetAttrString(mod, name);
    Py_DECREF(mod);
    if (!type) return NULL;
    PyArray_Descr *descr = NULL;
    int ok = PyArray_DescrConverter(type, &descr);
    Py_DECREF(type);
    return ok ? descr : NULL;
}

/* The engine dtype of an ml_dtypes descriptor (by its scalar type's name), or UNDEFINED. */
static ei_dtype ml_dtype_of(PyArray_Descr *d) {
    if (!d->typeobj || !d->typeobj->tp_name) return EI_DTYPE_UNDEFINED;
    const char *tn = d->typeobj->tp_name, *dot = strrchr(tn, '.');
    if (dot) tn = dot + 1;
    for (size_t i = 0; i < sizeof ml_types / sizeof ml_types[0]; i++)
        if (strcmp(tn, ml_types[i].name) == 0 &&
            (size_t)PyDataType_ELSIZE(d) == (is_packed(ml_types[i].dtype) ? 1 : ei_dtype_size(ml_types[i].dtype)))
            return ml_types[i].dtype;
    return EI_DTYPE_UNDEFINED;
}

/* Whether Python can hold engine dtype dt (NumPy types and ml_dtypes ones). */
static int py_can_hold(ei_dtype dt) { return npy_type_of(dt) >= 0 || ml_name_of(dt) != NULL; }

/* A new uninitialized array of engine dtype dt (NumPy types and ml_dtypes ones). */
static PyArrayObject *new_array(ei_dtype dt, int rank, npy_intp *dims) {
    if (npy_type_of(dt) < 0) {
        PyArray_Descr *d = ml_descr(dt); /* stolen below */
        if (!d) return NULL;
        return (PyArrayObject *)PyArray_NewFromDescr(&PyArray_Type, d, rank, dims, NULL, NULL, 0, NULL);
    }
    return (PyArrayObject *)PyArray_SimpleNew(rank, dims, npy_type_of(dt));
}

/* Engine dtype of a NumPy array, by kind and size (so int64 and longlong both map),
 * or EI_DTYPE_UNDEFINED. */
static ei_dtype ei_dtype_of(PyArrayObject *a) {
    const char kind = PyArray_DESCR(a)->kind;
    const npy_intp size = PyArray_ITEMSIZE(a);
    ei_dtype ml = ml_dtype_of(PyArray_DESCR(a));
    if (ml != EI_DTYPE_UNDEFINED) return ml;
    switch (kind) {
    case 'b': return size == 1 ? EI_DTYPE_BOOL : EI_DTYPE_UNDEFINED;
    case 'f':
        return size == 2 ? EI_DTYPE_F16 : size == 4 ? EI_DTYPE_F32 : size == 8 ? EI_DTYPE_F64 : EI_DTYPE_UNDEFINED;
    case 'i':
        return size == 1   ? EI_DTYPE_I8
               : size == 2 ? EI_DTYPE_I16
               : size == 4 ? EI_DTYPE_I32
               : size == 8 ? EI_DTYPE_I64
                           : EI_DTYPE_UNDEFINED;
    case 'u':
        return size == 1   ? EI_DTYPE_U8
               : size == 2 ? EI_DTYPE_U16
               : size == 4 ? EI_DTYPE_U32
               : size == 8 ? EI_DTYPE_U64
                           : EI_DTYPE_UNDEFINED;
    default: return EI_DTYPE_UNDEFINED;
    }
}

/* ------------------------------------------------------------- session */

typedef struct {
    PyObject_HEAD
    ei_session *sess;
    PyThread_type_lock lock; /* makes reshape + output allocation + run one step */
    size_t n_inputs, n_outputs;
    ei_value_info *inputs;   /* declared infos; strings owned by sess */
    ei_value_info *outputs;
} SessionObject;

static void Session_dealloc(SessionObject *self) {
    ei_session_free(self->sess);
    if (self->lock) PyThread_free_lock(self->lock);
    PyMem_Free(self->inputs);
    PyMem_Free(self->outputs);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Caches the declared input/output infos. Returns -1 with an exception set. */
static int session_load_infos(SessionObject *self) {
    self->n_inputs = ei_session_input_count(self->sess);
    self->n_outputs = ei_session_output_count(self->sess);
    self->inputs = PyMem_Calloc(self->n_inputs ? self->n_inputs : 1, sizeof(ei_value_info));
    self->outputs = PyMem_Calloc(self->n_outputs ? self->n_outputs : 1, sizeof(ei_value_info));
    if (!self->inputs || !self->outputs) {
        PyErr_NoMemory();
        return -1;
    }
    for (size_t i = 0; i < self->n_inputs; i++) {
        ei_status st = ei_session_input_info(self->sess, i, &self->inputs[i]);
        if (st != EI_STATUS_OK) return raise_status(st), -1;
    }
    for (size_t i = 0; i < self->n_outputs; i++) {
        ei_status st = ei_session_output_info(self->sess, i, &self->outputs[i]);
        if (st != EI_STATUS_OK) return raise_status(st), -1;
    }
    return 0;
}

/* Session(model, *, is_path=False, base_dir=None, num_threads=0, optimization_level=1,
 *         enable_profiling=False)
 * model: a path (str/bytes/PathLike) when is_path, else any bytes-like object holding a
 * serialized ModelProto. */
static int Session_init(SessionObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"model", "is_path", "base_dir", "num_threads", "optimization_level",
                             "enable_profiling", NULL};
    PyObject *model = NULL, *base_dir_obj = Py_None;
    int is_path = 0, num_threads = 0, opt_level = 1, profiling = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|$pOiip", kwlist, &model, &is_path, &base_dir_obj,
                                     &num_threads, &opt_level, &profiling))
        return -1;
    if (self->sess) {
        PyErr_SetString(InvalidArgument, "Session is already initialized");
        return -1;
    }
    if (num_threads < 0) {
        PyErr_Format(InvalidArgument, "num_threads must be >= 0 (0 = one per core), got %d", num_threads);
        return -1;
    }
    if (!self->lock) {
        self->lock = PyThread_allocate_lock();
        if (!self->lock) {
            PyErr_NoMemory();
            return -1;
        }
    }
    ei_options opt;
    ei_options_init(&opt);
    opt.num_threads = num_threads;
    opt.optimization_level = opt_level;
    opt.enable_profiling = profiling;

    ei_session *sess = NULL;
    ei_status st;
    if (is_path) {
        PyObject *path_bytes = NULL;
        if (!PyUnicode_FSConverter(model, &path_bytes)) return -1;
        const char *path = PyBytes_AS_STRING(path_bytes);
        Py_BEGIN_ALLOW_THREADS
        st = ei_session_create_from_file(path, &opt, &sess);
        Py_END_ALLOW_THREADS
        Py_DECREF(path_bytes);
    } else {
        PyObject *dir_bytes = NULL;
        if (base_dir_obj != Py_None && !PyUnicode_FSConverter(base_dir_obj, &dir_bytes)) return -1;
        Py_buffer view;
        if (PyObject_GetBuffer(model, &view, PyBUF_SIMPLE) < 0) {
            Py_XDECREF(dir_bytes);
            PyErr_Format(PyExc_TypeError,
                         "model must be a path, bytes or an object with SerializeToString(), not %.100s",
                         Py_TYPE(model)->tp_name);
            return -1;
        }
        const char *dir = dir_bytes ? PyBytes_AS_STRING(dir_bytes) : NULL;
        Py_BEGIN_ALLOW_THREADS
        st = ei_session_create_from_memory(view.buf, (size_t)view.len, dir, &opt, &sess);
        Py_END_ALLOW_THREADS
        PyBuffer_Release(&view);
        Py_XDECREF(dir_bytes);
    }
    if (st != EI_STATUS_OK) {
        ei_session_free(sess);
        raise_status(st);
        return -1;
    }
    if (!sess) {
        PyErr_SetString(EdgeInferError, "engine returned OK but no session (bug in edgeinfer)");
        return -1;
    }
    self->sess = sess;
    if (session_load_infos(self) < 0) {
        ei_session_free(self->sess);
        self->sess = NULL;
        return -1;
    }
    return 0;
}

static int session_check(SessionObject *self) {
    if (!self->sess) {
        PyErr_SetString(InvalidArgument, "Session is not initialized");
        return -1;
    }
    return 0;
}

/* (name, dtype code, shape) where shape is None (unknown rank) or a list of int /
 * str (symbolic dim) / None (unnamed dynamic dim). */
static PyObject *info_to_tuple(const ei_value_info *vi) {
    PyObject *shape;
    if (vi->rank < 0) {
        shape = Py_NewRef(Py_None);
    } else {
        int rank = vi->rank > EI_MAX_RANK ? EI_MAX_RANK : vi->rank;
        shape = PyList_New(rank);
        if (!shape) return NULL;
        for (int d = 0; d < rank; d++) {
            PyObject *item;
            if (vi->dims[d] >= 0)
                item = PyLong_FromLongLong((long long)vi->dims[d]);
            else if (vi->dim_names[d] && vi->dim_names[d][0])
                item = PyUnicode_DecodeUTF8(vi->dim_names[d], (Py_ssize_t)strlen(vi->dim_names[d]), "replace");
            else
                item = Py_NewRef(Py_None);
            if (!item) {
                Py_DECREF(shape);
                return NULL;
            }
            PyList_SET_ITEM(shape, d, item);
        }
    }
    /* surrogateescape: a name that is not UTF-8 still round-trips into a feed key. */
    const char *name = vi->name ? vi->name : "";
    PyObject *pyname = PyUnicode_DecodeUTF8(name, (Py_ssize_t)strlen(name), "surrogateescape");
    if (!pyname) {
        Py_DECREF(shape);
        return NULL;
    }
    return Py_BuildValue("(NiN)", pyname, (int)vi->dtype, shape);
}

static PyObject *infos_to_list(const ei_value_info *infos, size_t n) {
    PyObject *list = PyList_New((Py_ssize_t)n);
    if (!list) return NULL;
    for (size_t i = 0; i < n; i++) {
        PyObject *t = info_to_tuple(&infos[i]);
        if (!t) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, t);
    }
    return list;
}

static PyObject *Session_input_info(SessionObject *self, PyObject *Py_UNUSED(ignored)) {
    if (session_check(self) < 0) return NULL;
    return infos_to_list(self->inputs, self->n_inputs);
}

static PyObject *Session_output_info(SessionObject *self, PyObject *Py_UNUSED(ignored)) {
    if (session_check(self) < 0) return NULL;
    return infos_to_list(self->outputs, self->n_outputs);
}

/* Index of the declared input called name, or -1. */
static Py_ssize_t find_input(SessionObject *self, const char *name) {
    for (size_t i = 0; i < self->n_inputs; i++)
        if (self->inputs[i].name && strcmp(self->inputs[i].name, name) == 0) return (Py_ssize_t)i;
    return -1;
}

/* "'a', 'b'" of the model's inputs, for error messages. */
static PyObject *input_names_str(SessionObject *self) {
    PyObject *parts = PyList_New(0);
    if (!parts) return NULL;
    for (size_t i = 0; i < self->n_inputs; i++) {
        const char *nm = self->inputs[i].name ? self->inputs[i].name : "";
        PyObject *u = PyUnicode_DecodeUTF8(nm, (Py_ssize_t)strlen(nm), "replace");
        PyObject *s = u ? PyUnicode_FromFormat("%R", u) : NULL;
        Py_XDECREF(u);
        if (!s || PyList_Append(parts, s) < 0) {
            Py_XDECREF(s);
            Py_DECREF(parts);
            return NULL;
        }
        Py_DECREF(s);
    }
    PyObject *sep = PyUnicode_FromString(", ");
    PyObject *out = sep ? PyUnicode_Join(sep, parts) : NULL;
    Py_XDECREF(sep);
    Py_DECREF(parts);
    return out;
}

/* Feed being bound: arrays the binding holds references to while the GIL is released. */
typedef struct {
    size_t n;
    ei_tensor *tensors;
    PyArrayObject **arrays;
    void **packed; /* packed copies of sub-byte inputs (PyMem), or NULL */
} feed;

static void feed_clear(feed *f) {
    if (f->arrays)
        for (size_t i = 0; i < f->n; i++) Py_XDECREF(f->arrays[i]);
    if (f->packed)
        for (size_t i = 0; i < f->n; i++) PyMem_Free(f->packed[i]);
    PyMem_Free(f->packed);
    PyMem_Free(f->arrays);
    PyMem_Free(f->tensors);
    memset(f, 0, sizeof *f);
}

/* Converts one fed value for declared input idx. Returns a new reference to an array
 * the engine can read in place, or NULL with InvalidArgument set. */
static PyArrayObject *convert_input(SessionObject *self, size_t idx, PyObject *value) {
    const ei_value_info *vi = &self->inputs[idx];
    PyArrayObject *arr;
    if (PyArray_Check(value)) {
        arr = (PyArrayObject *)Py_NewRef(value);
    } else {
        /* Lists, scalars: np.asarray, then the same strict dtype rule as arrays. */
        arr = (PyArrayObject *)PyArray_FROM_O(value);
        if (!arr) {
            PyErr_Clear();
            PyErr_Format(InvalidArgument, "input '%s': cannot convert a %.100s to an array", vi->name,
                         Py_TYPE(value)->tp_name);
            return NULL;
        }
    }
    ei_dtype given = ei_dtype_of(arr);
    if (given != vi->dtype || given == EI_DTYPE_UNDEFINED) {
        PyObject *given_str = PyObject_Str((PyObject *)PyArray_DESCR(arr));
        const char *gs = given_str ? PyUnicode_AsUTF8(given_str) : NULL;
        if (!gs) PyErr_Clear();
        PyErr_Format(InvalidArgument,
                     "input '%s': expected dtype %s, got %s (edgeinfer does not convert dtypes: "
                     "pass an array of dtype %s)",
                     vi->name, ei_dtype_name(vi->dtype), gs ? gs : "an unknown dtype",
                     ei_dtype_name(vi->dtype));
        Py_XDECREF(given_str);
        Py_DECREF(arr);
        return NULL;
    }
    if (PyArray_NDIM(arr) > EI_MAX_RANK) {
        PyErr_Format(InvalidArgument, "input '%s': rank %d exceeds the engine's maximum of %d", vi->name,
                     PyArray_NDIM(arr), EI_MAX_RANK);
        Py_DECREF(arr);
        return NULL;
    }
    if (is_packed(vi->dtype)) return arr; /* feed_bind packs it from any layout: the one copy */
    if (PyArray_IS_C_CONTIGUOUS(arr) && PyArray_ISALIGNED(arr) && !PyArray_ISBYTESWAPPED(arr))
        return arr; /* zero copy */
    int typenum = npy_type_of(vi->dtype);
    PyArray_Descr *descr = typenum >= 0 ? PyArray_DescrFromType(typenum) : ml_descr(vi->dtype);
    if (!descr) {
        if (!PyErr_Occurred())
            PyErr_Format(Unsupported, "input '%s': dtype %s cannot be passed from Python", vi->name,
                         ei_dtype_name(vi->dtype));
        Py_DECREF(arr);
        return NULL;
    }
    /* One conversion to a fresh C-contiguous, aligned, native-order array (steals descr). */
    PyArrayObject *copy = (PyArrayObject *)PyArray_FromAny((PyObject *)arr, descr, 0, 0,
                                                           NPY_ARRAY_CARRAY_RO | NPY_ARRAY_ENSURECOPY, NULL);
    Py_DECREF(arr);
    if (copy) input_copies++;
    return copy;
}

/* Packs a sub-byte input (one element per byte, any layout) into a new PyMem buffer
 * (*buf, freed by feed_clear) and points t at it. Counts as the input's one conversion. */
static int pack_input(PyArrayObject *arr, ei_tensor *t, void **buf) {
    unsigned bits = (unsigned)ei_dtype_bits(t->dtype);
    size_t n = (size_t)PyArray_SIZE(arr), nbytes = (n / 8) * bits + ((n % 8) * bits + 7) / 8;
    uint8_t *p = PyMem_Malloc(nbytes ? nbytes : 1);
    if (!p) {
        PyErr_NoMemory();
        return -1;
    }
    *buf = p;
    if (nbytes) memset(p, 0, nbytes);
    PyArrayIterObject *it = (PyArrayIterObject *)PyArray_IterNew((PyObject *)arr);
    if (!it) return -1;
    unsigned mask = (1u << bits) - 1u;
    for (size_t i = 0; i < n && it->index < it->size; i++) {
        unsigned code = *(const uint8_t *)it->dataptr & mask;
        p[i * bits / 8] |= (uint8_t)(code << (i * bits % 8));
        PyArray_ITER_NEXT(it);
    }
    Py_DECREF(it);
    t->data = p;
    t->nbytes = nbytes;
    input_copies++;
    return 0;
}

/* Binds a feed dict {name: array}. With shapes_only the values are shapes
 * (sequences of ints) instead of arrays: used by reshape(). Returns -1 with an exception. */
static int feed_bind(SessionObject *self, PyObject *dict, int shapes_only, feed *f) {
    memset(f, 0, sizeof *f);
    if (!PyDict_Check(dict)) {
        PyErr_Format(InvalidArgument, "input_feed must be a dict {name: array}, not %.100s",
                     Py_TYPE(dict)->tp_name);
        return -1;
    }
    /* Snapshot the items: converting values runs Python code that could change the dict. */
    PyObject *items = PyDict_Items(dict);
    if (!items) return -1;
    Py_ssize_t n = PyList_GET_SIZE(items);
    f->tensors = PyMem_Calloc(n ? (size_t)n : 1, sizeof(ei_tensor));
    f->arrays = PyMem_Calloc(n ? (size_t)n : 1, sizeof(PyArrayObject *));
    f->packed = PyMem_Calloc(n ? (size_t)n : 1, sizeof(void *));
    if (!f->tensors || !f->arrays || !f->packed) {
        PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *kv = PyList_GET_ITEM(items, i);
        PyObject *key = PyTuple_GET_ITEM(kv, 0), *value = PyTuple_GET_ITEM(kv, 1);
        if (!PyUnicode_Check(key)) {
            PyErr_Format(InvalidArgument, "input names must be str, not %.100s", Py_TYPE(key)->tp_name);
            goto fail;
        }
        PyObject *key_bytes = PyUnicode_AsEncodedString(key, "utf-8", "surrogateescape");
        if (!key_bytes) goto fail;
        Py_ssize_t idx = find_input(self, PyBytes_AS_STRING(key_bytes));
        Py_DECREF(key_bytes);
        if (idx < 0) {
            PyObject *names = input_names_str(self);
            PyErr_Format(InvalidArgument, "unknown input %R: the model's inputs are %U", key,
                         names ? names : Py_None);
            Py_XDECREF(names);
            goto fail;
        }
        const char *name = self->inputs[idx].name;
        ei_tensor *t = &f->tensors[f->n];
        t->name = self->inputs[idx].name;
        t->dtype = self->inputs[idx].dtype;
        if (shapes_only) {
            PyObject *seq = PySequence_Fast(value, "a shape must be a sequence of ints");
            if (!seq) {
                PyErr_Clear();
                PyErr_Format(InvalidArgument, "input '%s': a shape must be a sequence of ints", name);
                goto fail;
            }
            Py_ssize_t rank = PySequence_Fast_GET_SIZE(seq);
            if (rank > EI_MAX_RANK) {
                Py_DECREF(seq);
                PyErr_Format(InvalidArgument, "input '%s': rank %zd exceeds the engine's maximum of %d", name,
                             rank, EI_MAX_RANK);
                goto fail;
            }
            t->rank = (int)rank;
            for (Py_ssize_t d = 0; d < rank; d++) {
                long long v = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(seq, d));
                if (v == -1 && PyErr_Occurred()) {
                    Py_DECREF(seq);
                    PyErr_Clear();
                    PyErr_Format(InvalidArgument, "input '%s': a shape must be a sequence of ints", name);
                    goto fail;
                }
                t->dims[d] = (int64_t)v;
            }
            Py_DECREF(seq);
        } else {
            PyArrayObject *arr = convert_input(self, (size_t)idx, value);
            if (!arr) goto fail;
            f->arrays[f->n] = arr;
            t->rank = PyArray_NDIM(arr);
            for (int d = 0; d < t->rank; d++) t->dims[d] = (int64_t)PyArray_DIM(arr, d);
            t->data = PyArray_DATA(arr);
            t->nbytes = (size_t)PyArray_NBYTES(arr);
            if (is_packed(t->dtype) && pack_input(arr, t, &f->packed[f->n]) < 0) {
                f->n++; /* so that feed_clear releases arr */
                goto fail;
            }
        }
        f->n++;
    }
    Py_DECREF(items);
    /* Every declared input must be fed. */
    for (size_t i = 0; i < self->n_inputs; i++) {
        int found = 0;
        for (size_t j = 0; j < f->n && !found; j++) found = f->tensors[j].name == self->inputs[i].name;
        if (!found) {
            PyErr_Format(InvalidArgument, "missing input '%s' (%s): every model input must be fed",
                         self->inputs[i].name, ei_dtype_name(self->inputs[i].dtype));
            feed_clear(f);
            return -1;
        }
    }
    return 0;
fail:
    Py_DECREF(items);
    feed_clear(f);
    return -1;
}

static void lock_session(SessionObject *self) {
    if (!PyThread_acquire_lock(self->lock, NOWAIT_LOCK)) {
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(self->lock, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
}

/* List of output shapes (tuples) after a successful reshape; lock held. */
static PyObject *output_shapes_locked(SessionObject *self) {
    PyObject *list = PyList_New((Py_ssize_t)self->n_outputs);
    if (!list) return NULL;
    for (size_t i = 0; i < self->n_outputs; i++) {
        ei_tensor t;
        memset(&t, 0, sizeof t);
        ei_status st = ei_session_output_shape(self->sess, i, &t);
        if (st != EI_STATUS_OK) {
            Py_DECREF(list);
            return raise_status(st);
        }
        if (t.rank < 0) { /* depends on input data: known only after run */
            Py_INCREF(Py_None);
            PyList_SET_ITEM(list, (Py_ssize_t)i, Py_None);
            continue;
        }
        int rank = t.rank > EI_MAX_RANK ? EI_MAX_RANK : t.rank;
        PyObject *shape = PyTuple_New(rank);
        if (!shape) {
            Py_DECREF(list);
            return NULL;
        }
        for (int d = 0; d < rank; d++) {
            PyObject *v = PyLong_FromLongLong((long long)t.dims[d]);
            if (!v) {
                Py_DECREF(shape);
                Py_DECREF(list);
                return NULL;
            }
            PyTuple_SET_ITEM(shape, d, v);
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, shape);
    }
    return list;
}

/* reshape({name: shape}) -> [output shape, ...]: binds input shapes, plans memory. */
static PyObject *Session_reshape(SessionObject *self, PyObject *shapes) {
    if (session_check(self) < 0) return NULL;
    feed f;
    if (feed_bind(self, shapes, 1, &f) < 0) return NULL;
    lock_session(self);
    ei_status st;
    Py_BEGIN_ALLOW_THREADS
    st = ei_session_reshape(self->sess, f.tensors, f.n);
    Py_END_ALLOW_THREADS
    PyObject *res = st == EI_STATUS_OK ? output_shapes_locked(self) : raise_status(st);
    PyThread_release_lock(self->lock);
    feed_clear(&f);
    return res;
}

/* run({name: array}) -> [output array, ...] in the model's output order.
 * Inputs are read in place when C-contiguous, aligned and native; outputs are NumPy
 * arrays allocated here and filled by the engine. The GIL is released while computing. */
static PyObject *Session_run(SessionObject *self, PyObject *input_feed) {
    if (session_check(self) < 0) return NULL;
    feed f;
    if (feed_bind(self, input_feed, 0, &f) < 0) return NULL;

    PyObject *result = NULL;
    ei_tensor *outs = PyMem_Calloc(self->n_outputs ? self->n_outputs : 1, sizeof(ei_tensor));
    if (!outs) {
        feed_clear(&f);
        return PyErr_NoMemory();
    }
    lock_session(self);
    ei_status st;
    Py_BEGIN_ALLOW_THREADS
    st = ei_session_reshape(self->sess, f.tensors, f.n);
    Py_END_ALLOW_THREADS
    if (st != EI_STATUS_OK) {
        raise_status(st);
        goto done;
    }
    result = PyList_New((Py_ssize_t)self->n_outputs);
    if (!result) goto done;
    for (size_t i = 0; i < self->n_outputs; i++) {
        ei_tensor *t = &outs[i];
        st = ei_session_output_shape(self->sess, i, t);
        if (st != EI_STATUS_OK) {
            raise_status(st);
            goto fail;
        }
        if (t->rank < 0 || is_packed(t->dtype)) {
            /* Shape depends on input data, or a packed sub-byte dtype: the engine keeps the
             * result, copied (unpacked) below. */
            t->data = NULL;
            t->nbytes = 0;
            Py_INCREF(Py_None);
            PyList_SET_ITEM(result, (Py_ssize_t)i, Py_None);
            continue;
        }
        if (!py_can_hold(t->dtype)) {
            PyErr_Format(Unsupported, "output '%s' has dtype %s, which NumPy cannot hold",
                         t->name ? t->name : "?", ei_dtype_name(t->dtype));
            goto fail;
        }
        if (t->rank > EI_MAX_RANK) {
            PyErr_Format(EdgeInferError, "output '%s' has invalid rank %d (bug in edgeinfer)",
                         t->name ? t->name : "?", t->rank);
            goto fail;
        }
        npy_intp dims[EI_MAX_RANK];
        for (int d = 0; d < t->rank; d++) dims[d] = (npy_intp)t->dims[d];
        PyArrayObject *arr = new_array(t->dtype, t->rank, dims);
        if (!arr) goto fail;
        PyList_SET_ITEM(result, (Py_ssize_t)i, (PyObject *)arr);
        if ((size_t)PyArray_NBYTES(arr) != t->nbytes) {
            PyErr_Format(EdgeInferError, "output '%s': engine reports %zu bytes for %zd elements (bug in edgeinfer)",
                         t->name ? t->name : "?", t->nbytes, (Py_ssize_t)PyArray_SIZE(arr));
            goto fail;
        }
        t->data = PyArray_DATA(arr);
        t->nbytes = (size_t)PyArray_NBYTES(arr);
    }
    /* result holds references to the output arrays, f to the inputs. */
    Py_BEGIN_ALLOW_THREADS
    st = ei_session_run(self->sess, f.tensors, f.n, outs, self->n_outputs);
    Py_END_ALLOW_THREADS
    if (st != EI_STATUS_OK) {
        raise_status(st);
        goto fail;
    }
    /* Outputs whose shapes were known only after the run: one copy out of the engine. */
    for (size_t i = 0; i < self->n_outputs; i++) {
        if (PyList_GET_ITEM(result, (Py_ssize_t)i) != Py_None) continue;
        ei_tensor *t = &outs[i];
        if (!py_can_hold(t->dtype)) {
            PyErr_Format(Unsupported, "output '%s' has dtype %s, which NumPy cannot hold",
                         t->name ? t->name : "?", ei_dtype_name(t->dtype));
            goto fail;
        }
        if (t->rank < 0 || t->rank > EI_MAX_RANK || (t->nbytes > 0 && !t->data)) {
            PyErr_Format(EdgeInferError, "output '%s': engine returned no data (bug in edgeinfer)",
                         t->name ? t->name : "?");
            goto fail;
        }
        npy_intp dims[EI_MAX_RANK];
        for (int d = 0; d < t->rank; d++) dims[d] = (npy_intp)t->dims[d];
        PyArrayObject *arr = new_array(t->dtype, t->rank, dims);
        if (!arr) goto fail;
        size_t n_el = (size_t)PyArray_SIZE(arr), bits = ei_dtype_bits(t->dtype);
        size_t want = is_packed(t->dtype) ? (n_el / 8) * bits + ((n_el % 8) * bits + 7) / 8
                                          : (size_t)PyArray_NBYTES(arr);
        if (want != t->nbytes) {
            PyErr_Format(EdgeInferError, "output '%s': engine reports %zu bytes for %zd elements (bug in edgeinfer)",
                         t->name ? t->name : "?", t->nbytes, (Py_ssize_t)PyArray_SIZE(arr));
            Py_DECREF(arr);
            goto fail;
        }
        if (is_packed(t->dtype)) {
            /* one element per byte, as its raw code in the low bits (how ml_dtypes stores
             * int4/uint4/int2/uint2/float4: int4 -1 is 0x0f) */
            const uint8_t *src = t->data;
            uint8_t *dst = PyArray_DATA(arr);
            unsigned mask = (1u << bits) - 1u;
            for (size_t e = 0; e < n_el; e++)
                dst[e] = (uint8_t)((src[e * bits / 8] >> (e * bits % 8)) & mask);
        } else if (t->nbytes) {
            memcpy(PyArray_DATA(arr), t->data, t->nbytes);
        }
        Py_DECREF(PyList_GET_ITEM(result, (Py_ssize_t)i));
        PyList_SET_ITEM(result, (Py_ssize_t)i, (PyObject *)arr);
    }
    goto done;
fail:
    Py_CLEAR(result);
done:
    PyThread_release_lock(self->lock);
    PyMem_Free(outs);
    feed_clear(&f);
    return result;
}

static PyObject *Session_get_arena_bytes(SessionObject *self, void *Py_UNUSED(closure)) {
    if (session_check(self) < 0) return NULL;
    return PyLong_FromSize_t(ei_session_arena_bytes(self->sess));
}

static PyObject *Session_get_num_threads(SessionObject *self, void *Py_UNUSED(closure)) {
    if (session_check(self) < 0) return NULL;
    return PyLong_FromLong(ei_session_num_threads(self->sess));
}

/* ------------------------------------------------------------ profiling */

/* set_profiling(on): per-node timing of the next runs on or off (records are kept). */
static PyObject *Session_set_profiling(SessionObject *self, PyObject *arg) {
    if (session_check(self) < 0) return NULL;
    int on = PyObject_IsTrue(arg);
    if (on < 0) return NULL;
    lock_session(self);
    ei_status st = ei_session_set_profiling(self->sess, on);
    PyThread_release_lock(self->lock);
    if (st != EI_STATUS_OK) return raise_status(st);
    Py_RETURN_NONE;
}

static PyObject *str_or_empty(const char *s) {
    return PyUnicode_DecodeUTF8(s ? s : "", (Py_ssize_t)(s ? strlen(s) : 0), "replace");
}

/* One record as (name, op_type, domain, parent, depth, count, total_ns, self_ns, shape),
 * shape a tuple of ints or None. */
static PyObject *profile_entry_tuple(const ei_profile_entry *e) {
    PyObject *shape;
    if (e->rank < 0 || e->rank > EI_MAX_RANK) {
        shape = Py_NewRef(Py_None);
    } else {
        shape = PyTuple_New(e->rank);
        if (!shape) return NULL;
        for (int d = 0; d < e->rank; d++) {
            PyObject *v = PyLong_FromLongLong((long long)e->dims[d]);
            if (!v) {
                Py_DECREF(shape);
                return NULL;
            }
            PyTuple_SET_ITEM(shape, d, v);
        }
    }
    return Py_BuildValue("(NNNiiKKKN)", str_or_empty(e->name), str_or_empty(e->op_type),
                         str_or_empty(e->domain), e->parent, e->depth, (unsigned long long)e->count,
                         (unsigned long long)e->total_ns, (unsigned long long)e->self_ns, shape);
}

/* profile_entries() -> [record tuple], in the engine's order (parents before their body). */
static PyObject *Session_profile_entries(SessionObject *self, PyObject *Py_UNUSED(ignored)) {
    if (session_check(self) < 0) return NULL;
    PyObject *list = PyList_New(0);
    if (!list) return NULL;
    lock_session(self); /* no run adds records between count and entries */
    size_t n = ei_session_profile_count(self->sess);
    for (size_t i = 0; i < n; i++) {
        ei_profile_entry e;
        ei_status st = ei_session_profile_entry(self->sess, i, &e);
        PyObject *t = st == EI_STATUS_OK ? profile_entry_tuple(&e) : raise_status(st);
        if (!t || PyList_Append(list, t) < 0) {
            Py_XDECREF(t);
            Py_CLEAR(list);
            break;
        }
        Py_DECREF(t);
    }
    PyThread_release_lock(self->lock);
    return list;
}

/* profile_runs() -> (runs, total_ns) of the profiled runs. */
static PyObject *Session_profile_runs(SessionObject *self, PyObject *Py_UNUSED(ignored)) {
    if (session_check(self) < 0) return NULL;
    uint64_t runs = 0, ns = 0;
    ei_status st = ei_session_profile_runs(self->sess, &runs, &ns);
    if (st != EI_STATUS_OK) return raise_status(st);
    return Py_BuildValue("(KK)", (unsigned long long)runs, (unsigned long long)ns);
}

static PyObject *Session_profile_reset(SessionObject *self, PyObject *Py_UNUSED(ignored)) {
    if (session_check(self) < 0) return NULL;
    lock_session(self);
    ei_session_profile_reset(self->sess);
    PyThread_release_lock(self->lock);
    Py_RETURN_NONE;
}

/* creation_stats() -> {phase: ns} (read, parse, threads, prepare, optimize, plan, total). */
static PyObject *Session_creation_stats(SessionObject *self, PyObject *Py_UNUSED(ignored)) {
    if (session_check(self) < 0) return NULL;
    ei_creation_stats cs;
    ei_status st = ei_session_creation_stats(self->sess, &cs);
    if (st != EI_STATUS_OK) return raise_status(st);
    return Py_BuildValue("{sKsKsKsKsKsKsK}", "read", (unsigned long long)cs.read_ns, "parse",
                         (unsigned long long)cs.parse_ns, "threads", (unsigned long long)cs.threads_ns,
                         "prepare", (unsigned long long)cs.prepare_ns, "optimize",
                         (unsigned long long)cs.optimize_ns, "plan", (unsigned long long)cs.plan_ns,
                         "total", (unsigned long long)cs.total_ns);
}

static PyMethodDef Session_methods[] = {
    {"input_info", (PyCFunction)Session_input_info, METH_NOARGS,
     "input_info() -> [(name, dtype code, shape)]; shape items are int, str (symbolic) or None."},
    {"output_info", (PyCFunction)Session_output_info, METH_NOARGS,
     "output_info() -> [(name, dtype code, shape)], as input_info."},
    {"reshape", (PyCFunction)Session_reshape, METH_O,
     "reshape({name: shape}) -> [output shape]: binds input shapes and plans memory."},
    {"run", (PyCFunction)Session_run, METH_O,
     "run({name: array}) -> [array]: all outputs in the model's order. Releases the GIL."},
    {"set_profiling", (PyCFunction)Session_set_profiling, METH_O,
     "set_profiling(on): per-node timing of the next runs on or off (records are kept)."},
    {"profile_entries", (PyCFunction)Session_profile_entries, METH_NOARGS,
     "profile_entries() -> [(name, op_type, domain, parent, depth, count, total_ns, self_ns, shape)]."},
    {"profile_runs", (PyCFunction)Session_profile_runs, METH_NOARGS,
     "profile_runs() -> (runs, total_ns) of the runs profiled since creation or the last reset."},
    {"profile_reset", (PyCFunction)Session_profile_reset, METH_NOARGS,
     "profile_reset(): zeroes every per-node record and the run counter."},
    {"creation_stats", (PyCFunction)Session_creation_stats, METH_NOARGS,
     "creation_stats() -> {phase: ns}: read, parse, threads, prepare, optimize, plan, total."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef Session_getset[] = {
    {"arena_bytes", (getter)Session_get_arena_bytes, NULL,
     "Bytes of the activation arena planned by the last reshape/run (0 before one).", NULL},
    {"num_threads", (getter)Session_get_num_threads, NULL, "Threads the session runs with.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject SessionType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "edgeinfer._core.Session",
    .tp_basicsize = sizeof(SessionObject),
    .tp_dealloc = (destructor)Session_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Session(model, *, is_path=False, base_dir=None, num_threads=0, optimization_level=1,\n"
              "        enable_profiling=False)\n\n"
              "Low-level engine session. Use edgeinfer.InferenceSession instead.",
    .tp_methods = Session_methods,
    .tp_getset = Session_getset,
    .tp_init = (initproc)Session_init,
    .tp_new = PyType_GenericNew,
};

/* --------------------------------------------------------------- module */

static PyObject *mod_isa(PyObject *Py_UNUSED(m), PyObject *Py_UNUSED(ignored)) {
    return PyUnicode_FromString(ei_isa_name());
}
static PyObject *mod_version(PyObject *Py_UNUSED(m), PyObject *Py_UNUSED(ignored)) {
    return PyUnicode_FromString(ei_version());
}
static PyObject *mod_has_blas(PyObject *Py_UNUSED(m), PyObject *Py_UNUSED(ignored)) {
    return PyBool_FromLong(ei_has_blas());
}
static PyObject *mod_input_copies(PyObject *Py_UNUSED(m), PyObject *Py_UNUSED(ignored)) {
    return PyLong_FromSsize_t(input_copies);
}
static PyObject *mod_dtype_name(PyObject *Py_UNUSED(m), PyObject *arg) {
    long v = PyLong_AsLong(arg);
    if (v == -1 && PyErr_Occurred()) return NULL;
    return PyUnicode_FromString(ei_dtype_name((ei_dtype)v));
}

static PyMethodDef module_methods[] = {
    {"isa", mod_isa, METH_NOARGS, "SIMD level the kernels use: 'ref', 'avx2', 'avx512' or 'neon'."},
    {"version", mod_version, METH_NOARGS, "Version of the C engine."},
    {"has_blas", mod_has_blas, METH_NOARGS, "Whether matrix products go through OpenBLAS."},
    {"dtype_name", mod_dtype_name, METH_O, "Engine name of a dtype code ('float32', ...)."},
    {"_input_copies", mod_input_copies, METH_NOARGS,
     "Number of input arrays converted to a contiguous layout so far (for tests)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT, "edgeinfer._core", "edgeinfer's C engine (binding over edgeinfer.h).", -1,
    module_methods, NULL, NULL, NULL, NULL};

/* Creates exception name deriving from base (and builtin, if not NULL), adds it to m. */
static PyObject *add_exception(PyObject *m, const char *name, const char *doc, PyObject *base,
                               PyObject *builtin) {
    PyObject *bases = builtin ? PyTuple_Pack(2, base, builtin) : PyTuple_Pack(1, base);
    if (!bases) return NULL;
    char qualname[96];
    snprintf(qualname, sizeof qualname, "edgeinfer.%s", name);
    PyObject *exc = PyErr_NewExceptionWithDoc(qualname, doc, bases, NULL);
    Py_DECREF(bases);
    if (!exc) return NULL;
    if (PyModule_AddObject(m, name, Py_NewRef(exc)) < 0) {
        Py_DECREF(exc);
        Py_DECREF(exc);
        return NULL;
    }
    return exc; /* a reference kept in the static for the module's lifetime */
}

PyMODINIT_FUNC PyInit__core(void) {
    import_array();
    PyObject *m = PyModule_Create(&core_module);
    if (!m) return NULL;
    if (PyType_Ready(&SessionType) < 0) goto fail;
    if (PyModule_AddObject(m, "Session", Py_NewRef((PyObject *)&SessionType)) < 0) {
        Py_DECREF(&SessionType);
        goto fail;
    }
    if (!(EdgeInferError = add_exception(m, "EdgeInferError", "Base class of edgeinfer's errors.",
                                         PyExc_Exception, NULL)))
        goto fail;
    if (!(InvalidArgument = add_exception(m, "InvalidArgument",
                                          "The caller passed something wrong (input name, dtype, shape).",
                                          EdgeInferError, PyExc_ValueError)))
        goto fail;
    if (!(InvalidModel = add_exception(m, "InvalidModel", "The model is malformed or inconsistent.",
                                       EdgeInferError, PyExc_ValueError)))
        goto fail;
    if (!(Unsupported = add_exception(m, "Unsupported", "Valid ONNX that edgeinfer does not implement.",
                                      EdgeInferError, PyExc_NotImplementedError)))
        goto fail;
    if (!(IndexOutOfRange = add_exception(m, "IndexOutOfRange",
                                          "A data-dependent index (Gather indices, ...) is out of range.",
                                          EdgeInferError, PyExc_IndexError)))
        goto fail;
    if (!(OutOfMemory = add_exception(m, "OutOfMemory", "The engine could not allocate memory.",
                                      EdgeInferError, PyExc_MemoryError)))
        goto fail;
    if (!(EngineIOError = add_exception(m, "EngineIOError", "A file could not be read.", EdgeInferError,
                                        PyExc_OSError)))
        goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
