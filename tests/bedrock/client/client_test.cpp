/*
 * client_test.cpp -- exercises the header-only C++ client API
 * (bedrock/Client.hpp, ServiceHandle, ServiceGroupHandle, AsyncRequest,
 * Exception) against a running daemon, following upstream Bedrock's
 * tests/Client.cpp where it applies.
 *
 *   bedrock-client-test ADDRESS GROUP_FILE MODULE_B_LIBRARY
 *
 * ADDRESS: a daemon started with a Flock group (its group file is
 * GROUP_FILE) and Bedrock provider id 0. MODULE_B_LIBRARY: path of
 * libModuleB.so (module "module_b"). The daemon is modified (pools,
 * xstreams, providers are added) but not shut down.
 *
 * Prints "ok: ..." / "FAIL: ..." per check and exits with the number of
 * failures (capped at 100).
 */
#include <bedrock/Client.hpp>
#include <bedrock/DetailedException.hpp>
#include <bedrock/ServiceGroupHandle.hpp>
#include <bedrock/ServiceHandle.hpp>

#include <cstdlib>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
    std::cout << (ok ? "ok: " : "FAIL: ") << what << std::endl;
    if(!ok) ++failures;
}

/* Runs f, expects a bedrock::Exception whose what() contains `expected`. */
void expect_throw(const std::string& what, const std::string& expected,
                  const std::function<void()>& f) {
    try {
        f();
        check(false, what + " (no exception)");
    } catch(const bedrock::Exception& ex) {
        const std::string msg = ex.what();
        check(msg.find(expected) != std::string::npos,
              what + " (message: \"" + msg + "\")");
    } catch(const std::exception& ex) {
        check(false, what + " (wrong exception type: " + ex.what() + ")");
    }
}

void expect_no_throw(const std::string& what, const std::function<void()>& f) {
    try {
        f();
        check(true, what);
    } catch(const std::exception& ex) {
        check(false, what + " (threw: " + ex.what() + ")");
    }
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

} // namespace

int main(int argc, char** argv) {
    if(argc != 4) {
        std::cerr << "usage: " << argv[0] << " ADDRESS GROUP_FILE MODULE_B_LIBRARY\n";
        return 100;
    }
    const std::string address  = argv[1];
    const std::string groupfile = argv[2];
    const std::string module_b = argv[3];
    const std::string protocol = address.substr(0, address.find("://"));

    try {
        /* ---- Exception ------------------------------------------------ */
        check(std::string(bedrock::Exception("a {} c {}", 1, "x").what()) == "a 1 c x",
              "Exception formats {} fields");
        check(std::string(bedrock::Exception("{\"json\":true}").what()) == "{\"json\":true}",
              "Exception keeps a single argument verbatim");
        check(std::string(bedrock::Exception("{{}} {}", 7).what()) == "{} 7",
              "Exception handles {{ and }}");
        {
            auto ex = BEDROCK_DETAILED_EXCEPTION("at {}", 3);
            check(std::string(ex.what()) == "at 3" && contains(ex.details(), "client_test.cpp:"),
                  "DetailedException details() is file:line");
        }

        /* ---- invalid objects ------------------------------------------ */
        bedrock::Client            no_client;
        bedrock::ServiceHandle     no_handle;
        bedrock::ServiceGroupHandle no_group;
        bedrock::AsyncRequest      no_req;
        check(!no_client && !no_handle && !no_group && !no_req,
              "default-constructed objects are invalid");
        expect_throw("makeServiceHandle on an invalid Client", "Invalid bedrock::Client object",
                     [&] { no_client.makeServiceHandle(address); });
        expect_throw("getConfig on an invalid ServiceHandle",
                     "Invalid bedrock::ServiceHandle object", [&] {
                         std::string c;
                         no_handle.getConfig(&c);
                     });
        expect_throw("size() on an invalid ServiceGroupHandle",
                     "Invalid bedrock::ServiceGroupHandle object", [&] { no_group.size(); });
        expect_throw("wait() on an invalid AsyncRequest", "Invalid bedrock::AsyncRequest object",
                     [&] { no_req.wait(); });
        check(!no_req.active(), "invalid AsyncRequest is not active");

        thallium::engine engine(protocol, THALLIUM_CLIENT_MODE);
        bedrock::Client  client(engine);
        check(static_cast<bool>(client), "Client from a thallium engine");
        check(client.engine().get_margo_instance() == engine.get_margo_instance(),
              "Client::engine() is the engine it was made with");
        bedrock::Client client2(engine.get_margo_instance());
        check(static_cast<bool>(client2), "Client from a margo_instance_id");

        expect_throw("makeServiceHandle with a bad address", "",
                     [&] { client.makeServiceHandle("not-an-address"); });

        bedrock::ServiceHandle sh = client.makeServiceHandle(address);
        check(static_cast<bool>(sh), "makeServiceHandle");
        check(static_cast<bool>(sh.client()), "ServiceHandle::client()");
        {
            thallium::provider_handle ph = sh.providerHandle();
            check(ph.provider_id() == 0 && static_cast<std::string>(ph) == address,
                  "providerHandle() has the address and provider id 0");
        }

        /* ---- getConfig ------------------------------------------------ */
        std::string config;
        sh.getConfig(&config);
        check(contains(config, "\"providers\"") && contains(config, "\"margo\"")
                  && contains(config, "\"bedrock\"") && contains(config, "\"libraries\""),
              "getConfig (sync) returns the daemon's config");
        {
            bedrock::AsyncRequest req;
            std::string           c;
            sh.getConfig(&c, &req);
            check(c.empty(), "getConfig (async) leaves the output alone until wait()");
            check(req.active() && req.completed(), "async request active and completed");
            req.wait();
            check(c == config, "getConfig (async) delivers the config at wait()");
            check(!req.active(), "request inactive after wait()");
            expect_no_throw("second wait() is a no-op", [&] { req.wait(); });
        }

        /* ---- queryConfig: no Jx9 ------------------------------------- */
        expect_throw("queryConfig throws the daemon's message", "not supported", [&] {
            std::string r;
            sh.queryConfig("return $__config__;", &r);
        });
        {
            bedrock::AsyncRequest req;
            std::string           r;
            expect_no_throw("queryConfig (async) does not throw at the call",
                            [&] { sh.queryConfig("return 1;", &r, &req); });
            expect_throw("queryConfig (async) throws at wait()", "not supported",
                         [&] { req.wait(); });
            expect_no_throw("wait() again after an error is a no-op", [&] { req.wait(); });
        }

        /* ---- pools ---------------------------------------------------- */
        sh.addPool(R"({"name":"my_pool1","kind":"fifo_wait","access":"mpmc"})");
        sh.getConfig(&config);
        check(contains(config, "\"name\":\"my_pool1\""), "addPool (sync)");
        sh.removePool("my_pool1");
        sh.getConfig(&config);
        check(!contains(config, "\"name\":\"my_pool1\""), "removePool (sync)");
        {
            bedrock::AsyncRequest req;
            sh.addPool(R"({"name":"my_pool2","kind":"fifo_wait","access":"mpmc"})", &req);
            expect_throw("an active AsyncRequest cannot be reused", "already in use", [&] {
                sh.addPool(R"({"name":"my_pool3"})", &req);
            });
            req.wait();
            sh.getConfig(&config);
            check(contains(config, "\"name\":\"my_pool2\""), "addPool (async)");
            sh.removePool("my_pool2", &req);
            req.wait();
            sh.getConfig(&config);
            check(!contains(config, "\"name\":\"my_pool2\""), "removePool (async)");
        }
        expect_throw("addPool(\"1234\") throws", "", [&] { sh.addPool("1234"); });
        {
            bedrock::AsyncRequest req;
            expect_no_throw("addPool(\"1234\") async: no throw at the call",
                            [&] { sh.addPool("1234", &req); });
            expect_throw("addPool(\"1234\") async: throws at wait()", "", [&] { req.wait(); });
        }
        expect_throw("removePool of an unknown pool throws", "",
                     [&] { sh.removePool("no_such_pool"); });

        /* ---- xstreams ------------------------------------------------- */
        sh.addXstream(R"({"name":"my_es1","scheduler":{"pools":[0],"type":"basic_wait"}})");
        sh.getConfig(&config);
        check(contains(config, "\"name\":\"my_es1\""), "addXstream (sync)");
        sh.removeXstream("my_es1");
        sh.getConfig(&config);
        check(!contains(config, "\"name\":\"my_es1\""), "removeXstream (sync)");
        {
            bedrock::AsyncRequest req;
            sh.addXstream(R"({"name":"my_es2","scheduler":{"pools":[0],"type":"basic_wait"}})",
                          &req);
            req.wait();
            sh.getConfig(&config);
            check(contains(config, "\"name\":\"my_es2\""), "addXstream (async)");
            sh.removeXstream("my_es2", &req);
            req.wait();
            sh.getConfig(&config);
            check(!contains(config, "\"name\":\"my_es2\""), "removeXstream (async)");
        }
        expect_throw("removeXstream of an unknown xstream throws", "",
                     [&] { sh.removeXstream("no_such_es"); });

        /* ---- modules and providers ----------------------------------- */
        sh.loadModule(module_b);
        sh.getConfig(&config);
        check(contains(config, "libModuleB.so"), "loadModule (sync) shows in libraries");
        expect_throw("loadModule of a missing library throws", "Could not dlopen",
                     [&] { sh.loadModule("./libModuleX.so"); });
        {
            uint16_t id = 0;
            sh.addProvider(R"({"name":"my_provider_b1","type":"module_b","provider_id":123})",
                           &id);
            check(id == 123, "addProvider (sync) returns the provider id");
        }
        {
            bedrock::AsyncRequest req;
            uint16_t              id = 0;
            sh.addProvider(
                R"({"name":"my_provider_b2","type":"module_b","provider_id":34,"pool":"__primary__"})",
                &id, &req);
            check(id == 0, "addProvider (async) writes the id only at wait()");
            req.wait();
            check(id == 34, "addProvider (async) delivers the id");
        }
        {
            uint16_t id = 0;
            sh.addProvider(R"({"name":"my_provider_b3","type":"module_b","provider_id":65535})",
                           &id);
            check(id != 65535 && id != 0 && id != 34 && id != 123,
                  "addProvider with 65535 gets an automatic id (" + std::to_string(id) + ")");
        }
        expect_throw("addProvider with an unknown type throws",
                     "Could not find registration function for module \"module_x\"",
                     [&] { sh.addProvider(R"({"name":"px","type":"module_x"})"); });
        {
            bedrock::AsyncRequest req;
            sh.addProvider(R"({"name":"py","type":"module_x"})", nullptr, &req);
            expect_throw("addProvider with an unknown type throws at wait()",
                         "module_x", [&] { req.wait(); });
        }
        expect_throw("addProvider with a duplicate name throws", "already used",
                     [&] { sh.addProvider(R"({"name":"my_provider_b1","type":"module_b"})"); });
        sh.getConfig(&config);
        check(contains(config, "\"name\":\"my_provider_b2\"")
                  && contains(config, "\"provider_id\":34"),
              "added providers appear in the config");
        expect_throw("changeProviderPool throws the daemon's answer", "not supported",
                     [&] { sh.changeProviderPool("my_provider_b1", "__primary__"); });
        expect_throw("migrateProvider is not supported", "not supported",
                     [&] { sh.migrateProvider("my_provider_b1", address, 1, "{}", false); });
        {
            bedrock::AsyncRequest req;
            sh.snapshotProvider("my_provider_b1", "/tmp/x", "{}", false, &req);
            expect_throw("snapshotProvider (async) throws at wait()", "not supported",
                         [&] { req.wait(); });
        }

        /* ---- implicit wait by the destructor ------------------------- */
        {
            std::string c;
            {
                bedrock::AsyncRequest req;
                sh.getConfig(&c, &req);
            }
            check(!c.empty(), "the last AsyncRequest copy waits when destroyed");
        }
        {
            bedrock::AsyncRequest req;
            expect_no_throw("destroying a failed request does not throw", [&] {
                bedrock::AsyncRequest r2;
                sh.queryConfig("x", nullptr, &r2);
            });
        }

        /* ---- group from addresses ------------------------------------ */
        bedrock::ServiceGroupHandle g1 = client.makeServiceGroupHandle({address});
        check(g1.size() == 1, "group from an address list has 1 member");
        check(static_cast<bool>(g1[0]), "group[0] is valid");
        expect_throw("group[1] throws", "Invalid index 1", [&] { g1[1]; });
        {
            std::string c;
            g1.getConfig(&c);
            check(c.rfind("{\"" + address + "\":{", 0) == 0,
                  "group getConfig is {address: config}");
        }
        expect_throw("refresh of an address-list group throws",
                     "not associated with an SSG or Flock group", [&] { g1.refresh(); });
        expect_throw("group queryConfig throws", "not supported", [&] {
            std::string r;
            g1.queryConfig("return 1;", &r);
        });

        /* ---- group from the Flock file ------------------------------- */
        bedrock::ServiceGroupHandle g2 = client.makeServiceGroupHandleFromFlockFile(groupfile);
        check(g2.size() == 1, "group from the flock file has 1 member");
        check(g2[0].address() == address, "its member is the daemon");
        {
            bedrock::AsyncRequest req;
            std::string           c;
            g2.getConfig(&c, &req);
            req.wait();
            check(c.rfind("{\"" + address + "\":{", 0) == 0,
                  "group getConfig (async) is {address: config}");
        }
        expect_no_throw("refresh of a flock group", [&] { g2.refresh(); });
        check(g2.size() == 1, "still 1 member after refresh");
        expect_throw("group from a missing flock file throws", "Could not create flock group handle",
                     [&] { client.makeServiceGroupHandleFromFlockFile("/nonexistent.flock"); });
    } catch(const std::exception& ex) {
        check(false, std::string("unexpected exception: ") + ex.what());
    }

    std::cout << (failures ? "client test FAILED" : "client test passed") << std::endl;
    return failures > 100 ? 100 : failures;
}
