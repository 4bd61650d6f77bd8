/*
 * c_dyn_module.c -- libtest-c-dyn-module.so: a C module "test_c_dyn" whose
 * dependencies come from the get_dependencies callback of bedrock/module.h
 * (per provider) instead of the static table. Built only when the
 * installed bedrock/module.h has that callback.
 *
 * get_dependencies declares "flock_group" (type "flock", required) for
 * every provider, and "extra_pool" (type "pool", required) for providers
 * whose config contains "with_pool":true. create() checks that each
 * resolved dependency arrives with its declared type in type_ and a
 * non-NULL handle, and fails with a message saying what it got otherwise.
 * Reported config: {"module":"test_c_dyn","seen":"<name>:<type>;..."}.
 */
#include <bedrock/module.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char* dup_text(const char* s) {
    size_t n = strlen(s) + 1;
    char*  p = malloc(n);
    if(p) memcpy(p, s, n);
    return p;
}

static void dyn_get_dependencies(const struct bedrock_component_args* args,
                                 void (*add)(void*, const char*, const char*, uint32_t),
                                 void* ctx) {
    add(ctx, "flock_group", "flock", BEDROCK_REQUIRED);
    if(args && args->config && strstr(args->config, "\"with_pool\":true"))
        add(ctx, "extra_pool", "pool", BEDROCK_REQUIRED);
}

static int dyn_create(const struct bedrock_component_args* args, void** component,
                      char** error) {
    char   seen[512] = "";
    char   msg[768];
    size_t i;
    for(i = 0; i < args->num_dependencies; i++) {
        const struct bedrock_resolved_dependency* d        = &args->dependencies[i];
        const char*                               expected =
            strcmp(d->name, "extra_pool") == 0 ? "pool" : "flock";
        const char* type = d->type_ ? d->type_ : "(null)";
        if(strcmp(type, expected) != 0) {
            snprintf(msg, sizeof(msg),
                     "test_c_dyn: dependency \"%s\" has type_ \"%s\", expected \"%s\"",
                     d->name, type, expected);
            *error = dup_text(msg);
            return 1;
        }
        if(d->count != 1 || !d->handles || !d->handles[0]) {
            snprintf(msg, sizeof(msg), "test_c_dyn: dependency \"%s\" has no handle", d->name);
            *error = dup_text(msg);
            return 1;
        }
        if(strlen(seen) + strlen(d->name) + strlen(type) + 3 < sizeof(seen)) {
            strcat(seen, d->name);
            strcat(seen, ":");
            strcat(seen, type);
            strcat(seen, ";");
        }
    }
    *component = dup_text(seen);
    return *component ? 0 : 1;
}

static void dyn_destroy(void* component) { free(component); }

static char* dyn_get_config(void* component) {
    const char* seen = component;
    size_t      n    = strlen(seen) + 48;
    char*       out  = malloc(n);
    if(out) snprintf(out, n, "{\"module\":\"test_c_dyn\",\"seen\":\"%s\"}", seen);
    return out;
}

static const struct bedrock_module dyn_module = {
    .create           = dyn_create,
    .destroy          = dyn_destroy,
    .get_config       = dyn_get_config,
    .get_dependencies = dyn_get_dependencies,
};

__attribute__((constructor)) static void dyn_register(void) {
    if(bedrock_register_module("test_c_dyn", &dyn_module) != 0)
        fprintf(stderr, "libtest-c-dyn-module: could not register module test_c_dyn\n");
}
