/*
 * thallium-client: the C++ (thallium.hpp) counterpart of margo-client.
 *
 *   thallium-client PROTOCOL SERVER_ADDRESS
 *
 * Creates a client-mode engine, looks the server up, prints
 * std::string(endpoint), checks a few endpoint/engine operations and that a
 * garbage address throws thallium::margo_exception, then shuts the server
 * down with engine::shutdown_remote_engine. Exits with the number of failed
 * checks (0 = success).
 */
#include <thallium.hpp>

#include <iostream>
#include <string>

namespace tl = thallium;

static int failures = 0;

static void check(bool cond, const std::string& what) {
    std::cout << (cond ? "ok: " : "FAIL: ") << what << std::endl;
    if(!cond) ++failures;
}

int main(int argc, char** argv) {
    if(argc != 3) {
        std::cerr << "usage: " << argv[0] << " PROTOCOL SERVER_ADDRESS" << std::endl;
        return 2;
    }
    const std::string protocol = argv[1];
    const std::string target   = argv[2];

    try {
        tl::engine engine(protocol, THALLIUM_CLIENT_MODE);
        check(static_cast<bool>(engine), "engine created");

        tl::endpoint server = engine.lookup(target);
        std::cout << "server address: " << std::string(server) << std::endl;
        check(std::string(server) == target, "std::string(endpoint) gives back the looked-up text");
        check(!server.is_null(), "endpoint is not null");

        tl::endpoint copy = server;
        check(copy == server, "a copy compares equal");
        check(!(engine.self() == server), "self differs from the server");
        check(server.get_engine() == engine, "endpoint::get_engine");

        tl::provider_handle ph(server, 42);
        check(ph.provider_id() == 42 && std::string(ph) == target, "provider_handle");

        try {
            engine.lookup(protocol + "://garbage");
            check(false, "lookup of a garbage address throws");
        } catch(const tl::margo_exception& ex) {
            check(ex.error() != HG_SUCCESS, std::string("lookup of a garbage address throws: ") + ex.what());
        }

        engine.shutdown_remote_engine(server);
        check(true, "engine::shutdown_remote_engine");
    } catch(const tl::exception& ex) {
        check(false, std::string("unexpected thallium exception: ") + ex.what());
    }

    std::cout << "thallium-client: "
              << (failures ? std::to_string(failures) + " check(s) failed" : "all checks passed")
              << std::endl;
    return failures;
}
