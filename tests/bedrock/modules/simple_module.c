/*
 * simple_module.c -- a C Bedrock module with no dependencies, registered
 * under the name given by MODULE_NAME at compile time. Built twice, as
 * libModuleA.so (module_a) and libModuleB.so (module_b): our stand-ins for
 * upstream Bedrock's test modules of the same names.
 *
 * Its providers report their config as given ({} by default).
 */
#include <bedrock/module.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef MODULE_NAME
#error "define MODULE_NAME (e.g. -DMODULE_NAME=module_a)"
#endif
#define STR2(x) #x
#define STR(x) STR2(x)

static int simple_create(const struct bedrock_component_args* args, void** component,
                         char** error) {
    const char* config = args && args->config && *args->config ? args->config : "{}";
    size_t      n      = strlen(config) + 1;
    char*       copy   = malloc(n);
    if(!copy) {
        if(error) {
            *error = malloc(16);
            if(*error) strcpy(*error, "out of memory");
        }
        return 1;
    }
    memcpy(copy, config, n);
    *component = copy;
    return 0;
}

static void simple_destroy(void* component) { free(component); }

static char* simple_get_config(void* component) {
    size_t n    = strlen(component) + 1;
    char*  copy = malloc(n);
    if(copy) memcpy(copy, component, n);
    return copy;
}

static const struct bedrock_module simple_module = {
    .create     = simple_create,
    .destroy    = simple_destroy,
    .get_config = simple_get_config,
};

__attribute__((constructor)) static void simple_register(void) {
    if(bedrock_register_module(STR(MODULE_NAME), &simple_module) != 0)
        fprintf(stderr, "could not register module %s\n", STR(MODULE_NAME));
}
