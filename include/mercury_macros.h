/*
 * mercury_macros.h — MERCURY_GEN_PROC and MERCURY_GEN_STRUCT_PROC for
 * programs written against Mercury, over libmochi's procs (margo.h).
 * Hand-written for libmochi; no Boost needed.
 *
 * A field list is a sequence of (type)(name) pairs, as in Mercury:
 *
 *     MERCURY_GEN_PROC(sum_in_t, ((int32_t)(x))((int32_t)(y))((hg_string_t)(label)))
 *
 * defines `typedef struct { int32_t x; int32_t y; hg_string_t label; } sum_in_t;`
 * and `hg_proc_sum_in_t`, which runs hg_proc_<type> on each field in order
 * and stops at the first error. MERCURY_GEN_STRUCT_PROC(type, fields) defines
 * only the proc, for a struct declared elsewhere.
 */
#ifndef MOCHI_MERCURY_MACROS_H
#define MOCHI_MERCURY_MACROS_H

#include <margo.h>
#include <mercury_proc.h>

/* No input or no output: MARGO_REGISTER(..., void, void, ...). */
#define hg_proc_void NULL

#ifndef MOCHI_PP_CAT
#define MOCHI_PP_CAT(a, b) MOCHI_PP_CAT_I(a, b)
#define MOCHI_PP_CAT_I(a, b) a##b
#endif
#define MOCHI_PP_EAT(...)
#define MOCHI_PP_ID(...) __VA_ARGS__

/* One field, `(type)(name)`: its type and its name. */
#define MOCHI_HG_FIELD_TYPE(field) MOCHI_PP_ID(MOCHI_HG_FIELD_FIRST_ field)
#define MOCHI_HG_FIELD_FIRST_(type) type MOCHI_PP_EAT
#define MOCHI_HG_FIELD_NAME(field) MOCHI_HG_FIELD_NAME_(MOCHI_PP_EAT field)
#define MOCHI_HG_FIELD_NAME_(paren) MOCHI_PP_ID paren

/* Walking a sequence `(f1)(f2)...(fn)`: A and B take turns consuming one
 * element each and leave their own name behind, which is then pasted with
 * _END into a macro expanding to nothing. No recursion, so no length limit. */
#define MOCHI_HG_DECLS(fields) MOCHI_PP_CAT(MOCHI_HG_DECL_A fields, _END)
#define MOCHI_HG_DECL_(field) MOCHI_HG_FIELD_TYPE(field) MOCHI_HG_FIELD_NAME(field);
#define MOCHI_HG_DECL_A(field) MOCHI_HG_DECL_(field) MOCHI_HG_DECL_B
#define MOCHI_HG_DECL_B(field) MOCHI_HG_DECL_(field) MOCHI_HG_DECL_A
#define MOCHI_HG_DECL_A_END
#define MOCHI_HG_DECL_B_END

#define MOCHI_HG_PROCS(fields) MOCHI_PP_CAT(MOCHI_HG_PROC_A fields, _END)
#define MOCHI_HG_PROC_(field)                                                                        \
    ret = MOCHI_PP_CAT(hg_proc_, MOCHI_HG_FIELD_TYPE(field))(proc, &struct_data->MOCHI_HG_FIELD_NAME(field)); \
    if (ret != HG_SUCCESS) return ret;
#define MOCHI_HG_PROC_A(field) MOCHI_HG_PROC_(field) MOCHI_HG_PROC_B
#define MOCHI_HG_PROC_B(field) MOCHI_HG_PROC_(field) MOCHI_HG_PROC_A
#define MOCHI_HG_PROC_A_END
#define MOCHI_HG_PROC_B_END

#define MERCURY_GEN_STRUCT_PROC(struct_type_name, fields)                              \
    static inline hg_return_t hg_proc_##struct_type_name(hg_proc_t proc, void *data)   \
    {                                                                                  \
        hg_return_t ret = HG_SUCCESS;                                                  \
        struct_type_name *struct_data = (struct_type_name *)data;                      \
        MOCHI_HG_PROCS(fields)                                                         \
        return ret;                                                                    \
    }

#define MERCURY_GEN_PROC(struct_type_name, fields)      \
    typedef struct {                                    \
        MOCHI_HG_DECLS(fields)                          \
    } struct_type_name;                                 \
    MERCURY_GEN_STRUCT_PROC(struct_type_name, fields)

#endif /* MOCHI_MERCURY_MACROS_H */
