/*
 * cxx_server_test.cpp -- bedrock/Server.hpp: a Server embedded in a C++
 * program, managed through MargoManager and ProviderManager (upstream's
 * class and method names), with the errors a user can cause.
 *
 * usage: bedrock-cxx-server-test MODULE_DIR   (holds libtest-c-module.so)
 * Prints "ok <check>" per passed check; exits non-zero if any failed.
 */
#include <bedrock/DependencyMap.hpp>
#include <bedrock/ProviderDescriptor.hpp>
#include <bedrock/ProviderHandle.hpp>
#include <bedrock/RequestResult.hpp>
#include <bedrock/Server.hpp>
#include <bedrock/VoidPtr.hpp>

#include <cstdio>
#include <functional>
#include <iostream>
#include <string>

static int failures = 0;

static void check(bool ok, const std::string& what) {
    if(ok)
        std::cout << "ok " << what << "\n";
    else {
        std::cout << "FAILED " << what << "\n";
        failures++;
    }
}

/* True if f throws a bedrock::Exception whose text contains `needle`. */
static bool throws(const std::function<void()>& f, const std::string& needle) {
    try {
        f();
    } catch(const bedrock::Exception& e) {
        if(std::string(e.what()).find(needle) != std::string::npos) return true;
        std::cout << "  (threw \"" << e.what() << "\")\n";
        return false;
    }
    return false;
}

int main(int argc, char** argv) {
    if(argc != 2) {
        std::cerr << "usage: " << argv[0] << " MODULE_DIR\n";
        return 2;
    }
    const std::string module = std::string(argv[1]) + "/libtest-c-module.so";

    check(throws([] { bedrock::Server s("na+sm", "{", bedrock::ConfigType::JSON); }, ""),
          "a malformed config throws");
    check(throws([] { bedrock::Server s("na+sm", "x", bedrock::ConfigType::JX9); }, "not supported"),
          "Jx9 throws \"not supported\"");

    const std::string config = R"({
        "libraries": {"test_c": ")" + module + R"("},
        "providers": [{"name": "my_group", "type": "flock", "provider_id": 1,
                       "config": {"bootstrap": "self", "group": {"type": "static"}}}]})";
    bedrock::Server server("na+sm", config);
    auto margo = server.getMargoManager();
    auto providers = server.getProviderManager();

    check(margo && providers, "managers are valid");
    check(margo.getNumEngines() == 1, "one engine");
    check(margo.getMargoInstance() != MARGO_INSTANCE_NULL, "getMargoInstance()");
    check(!static_cast<std::string>(margo.getThalliumEngine().self()).empty(),
          "getThalliumEngine().self() has an address");
    check(throws([&] { margo.getMargoInstance(3); }, "out of range"), "engine 3 is out of range");
    check(margo.getDefaultHandlerPool()->getName() == "__primary__"
              && margo.getDefaultHandlerPool()->getType() == "pool",
          "default handler pool is __primary__");

    const size_t pools = margo.getNumPools();
    auto extra = margo.addPool(R"({"name":"extra","kind":"fifo_wait","access":"mpmc"})");
    check(extra->getName() == "extra" && margo.getNumPools() == pools + 1, "addPool");
    check(margo.getPool("extra")->getName() == "extra", "getPool(name)");
    check(margo.getPool(static_cast<uint32_t>(pools))->getName() == "extra", "getPool(index)");
    check(throws([&] { margo.getPool("nope"); }, "nope"), "unknown pool throws, naming it");
    check(throws([&] { margo.addPool(R"({"name":"extra"})"); }, ""), "duplicate pool throws");
    auto xs = margo.addXstream(R"({"name":"xs1","scheduler":{"type":"basic_wait","pools":["extra"]}})");
    check(xs->getName() == "xs1" && xs->getType() == "xstream" && margo.getXstream("xs1"), "addXstream");
    check(throws([&] { margo.removePool("extra"); }, ""), "a pool in use is not removed");
    margo.removeXstream("xs1");
    margo.removePool("extra");
    check(margo.getNumPools() == pools && throws([&] { margo.getXstream("xs1"); }, "xs1"),
          "removeXstream, removePool");
    check(margo.getCurrentConfig().find("\"argobots\"") != std::string::npos, "MargoManager::getCurrentConfig");

    check(providers.numProviders() == 1 && providers.getProvider("my_group")->getProviderID() == 1,
          "the config's provider is there");
    auto checker = providers.addProviderFromJSON(nlohmann::json{
        {"name", "checker"}, {"type", "test_c"}, {"provider_id", 7},
        {"dependencies", {{"flock_group", "my_group"}}}});
    check(checker->getName() == "checker" && checker->getType() == "test_c"
              && checker->getProviderID() == 7,
          "addProviderFromJSON(json)");
    check(providers.lookupProvider("test_c:7")->getName() == "checker"
              && providers.lookupProvider("checker")->getProviderID() == 7,
          "lookupProvider by type:id and by name");
    check(providers.getProvider(static_cast<size_t>(1))->getName() == "checker", "getProvider(index)");
    check(providers.getCurrentConfig().size() == 2, "ProviderManager::getCurrentConfig lists 2");
    check(throws([&] { providers.addProviderFromJSON(std::string(R"({"name":"x","type":"no_such"})")); },
                 "no_such"),
          "unknown provider type throws, naming it");
    check(throws([&] { providers.addProviderListFromJSON(nlohmann::json::object()); }, "should be an array"),
          "addProviderListFromJSON wants an array");
    check(throws([&] { providers.deregisterProvider("my_group"); }, "checker"),
          "a provider another depends on is not deregistered");
    providers.deregisterProvider("test_c:7");
    check(providers.numProviders() == 1 && throws([&] { providers.lookupProvider("checker"); }, "checker"),
          "deregisterProvider");
    check(throws([&] { providers.migrateProvider("my_group", "x", 1, "{}", true); }, "not supported"),
          "migration is not supported");

    check(server.getCurrentConfig().find("\"my_group\"") != std::string::npos, "Server::getCurrentConfig");
    server.finalize();
    check(throws([&] { margo.getNumPools(); }, "finalized"), "a manager outliving its server throws");
    server.finalize(); /* twice is harmless */

    /* The small value types of upstream's headers. */
    int released = 0;
    {
        int x = 0;
        bedrock::VoidPtr a(&x, [&](void* p) { released += (p == &x); });
        bedrock::VoidPtr b(std::move(a));
        bedrock::VoidPtr c;
        c = std::move(b);
        check(c.handle == &x && a.handle == nullptr && released == 0, "VoidPtr moves its handle");
    }
    check(released == 1, "VoidPtr releases once");
    bedrock::RequestResult<std::string> text;
    text.success() = false;
    text.error()   = "bad";
    check(text.value() == "bad", "RequestResult<std::string> shares value and error");
    bedrock::RequestResult<bool> flag;
    flag.value() = false;
    check(!flag.success(), "RequestResult<bool>'s value is its success");
    bedrock::ProviderDescriptor desc{"a", "flock", 3};
    bedrock::DependencyMap deps{{"group", {"flock:1"}}};
    bedrock::ProviderHandle none;
    check(desc.provider_id == 3 && deps["group"].size() == 1 && none.is_null(), "ProviderDescriptor, DependencyMap, ProviderHandle");

    std::cout << (failures ? "FAILED\n" : "all checks passed\n");
    return failures ? 1 : 0;
}
