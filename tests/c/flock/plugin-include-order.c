/*
 * Compile-time check linked into test-plugins: the Flock plug-in headers
 * included BEFORE json-c's own header (test-plugins.c includes them after),
 * so that the declarations both make (struct json_object, json_object_put,
 * ...) are compatible in either order.
 */
#include <flock/flock-backend.h>
#include <flock/flock-gateway.h>
#include <flock/flock-server.h>
#include <json-c/json.h>

/* Used by test-plugins.c: a json-c object made here reads the same there. */
struct json_object* ft_include_order_probe(void)
{
    struct json_object* o = json_tokener_parse("{\"order\":\"flock first\"}");
    return o;
}
