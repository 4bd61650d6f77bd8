/*
 * c_module.c -- libtest-c-module.so: a Bedrock module written in C against
 * bedrock/module.h, registered as "test_c" when the library is loaded.
 *
 * Its providers require one dependency of type "flock" named "flock_group"
 * (a Flock group provider of the same daemon). At creation the provider
 * checks that it received a non-NULL flock_provider_t for it and that
 * flock_provider_get_config() on that handle returns the group's config
 * (a JSON object with a "group" entry); otherwise creation fails with a
 * message saying what was wrong. A provider config containing
 * "fail": true makes creation fail on purpose ("test_c: asked to fail").
 *
 * The provider's reported config records what it saw:
 *   {"module":"test_c","name":...,"provider_id":...,"num_tags":...,
 *    "flock_group":"<resolved name>","flock_provider_id":<id>,
 *    "flock_handle_ok":true,"flock_config_ok":true,"config":<its config>}
 */
#include <bedrock/module.h>
#include <flock/flock-server.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char*    name;
    uint16_t provider_id;
    size_t   num_tags;
    char*    flock_group;
    uint16_t flock_provider_id;
    char*    config;
} test_c_component;

static char* dup_text(const char* s) {
    size_t n = strlen(s ? s : "") + 1;
    char*  p = malloc(n);
    if(p) memcpy(p, s ? s : "", n);
    return p;
}

static int fail_with(char** error, const char* message) {
    if(error) *error = dup_text(message);
    return 1;
}

static int test_c_create(const struct bedrock_component_args* args,
                         void** component, char** error) {
    const struct bedrock_resolved_dependency* dep = NULL;
    char*                                     flock_config;
    test_c_component*                         c;
    size_t                                    i;

    if(!args || !component) return fail_with(error, "test_c: NULL arguments");
    if(args->config && strstr(args->config, "\"fail\":true"))
        return fail_with(error, "test_c: asked to fail");
    for(i = 0; i < args->num_dependencies; i++)
        if(args->dependencies[i].name
           && strcmp(args->dependencies[i].name, "flock_group") == 0)
            dep = &args->dependencies[i];
    if(!dep) return fail_with(error, "test_c: no \"flock_group\" dependency was passed");
    if(!dep->type_ || strcmp(dep->type_, "flock") != 0)
        return fail_with(error, "test_c: \"flock_group\" is not of type \"flock\"");
    if(dep->count != 1 || !dep->handles || !dep->names)
        return fail_with(error, "test_c: \"flock_group\" should resolve to exactly one provider");
    if(dep->handles[0] == NULL)
        return fail_with(error, "test_c: dependency \"flock_group\" has a NULL flock_provider_t handle");
    flock_config = flock_provider_get_config((flock_provider_t)dep->handles[0]);
    if(!flock_config)
        return fail_with(error, "test_c: flock_provider_get_config returned NULL");
    if(strstr(flock_config, "\"group\"") == NULL) {
        free(flock_config);
        return fail_with(error, "test_c: flock_provider_get_config has no \"group\" entry");
    }
    free(flock_config);

    c = calloc(1, sizeof(*c));
    if(!c) return fail_with(error, "test_c: out of memory");
    c->name              = dup_text(args->name);
    c->provider_id       = args->provider_id;
    c->num_tags          = args->num_tags;
    c->flock_group       = dup_text(dep->names[0]);
    c->flock_provider_id = dep->provider_ids ? dep->provider_ids[0] : 0;
    c->config            = dup_text(args->config && *args->config ? args->config : "{}");
    *component           = c;
    return 0;
}

static void test_c_destroy(void* component) {
    test_c_component* c = component;
    if(!c) return;
    free(c->name);
    free(c->flock_group);
    free(c->config);
    free(c);
}

static char* test_c_get_config(void* component) {
    test_c_component* c = component;
    const char*       fmt =
        "{\"module\":\"test_c\",\"name\":\"%s\",\"provider_id\":%u,\"num_tags\":%zu,"
        "\"flock_group\":\"%s\",\"flock_provider_id\":%u,\"flock_handle_ok\":true,"
        "\"flock_config_ok\":true,\"config\":%s}";
    int   n;
    char* out;
    n = snprintf(NULL, 0, fmt, c->name, (unsigned)c->provider_id, c->num_tags,
                 c->flock_group, (unsigned)c->flock_provider_id, c->config);
    if(n < 0) return NULL;
    out = malloc((size_t)n + 1);
    if(!out) return NULL;
    snprintf(out, (size_t)n + 1, fmt, c->name, (unsigned)c->provider_id, c->num_tags,
             c->flock_group, (unsigned)c->flock_provider_id, c->config);
    return out;
}

static void* test_c_get_handle(void* component) { return component; }

static const struct bedrock_dependency test_c_dependencies[] = {
    {"flock_group", "flock", BEDROCK_REQUIRED},
};

static const struct bedrock_module test_c_module = {
    .dependencies     = test_c_dependencies,
    .num_dependencies = sizeof(test_c_dependencies) / sizeof(test_c_dependencies[0]),
    .create           = test_c_create,
    .destroy          = test_c_destroy,
    .get_config       = test_c_get_config,
    .get_handle       = test_c_get_handle,
};

__attribute__((constructor)) static void test_c_register(void) {
    if(bedrock_register_module("test_c", &test_c_module) != 0)
        fprintf(stderr, "libtest-c-module: could not register module test_c\n");
}
