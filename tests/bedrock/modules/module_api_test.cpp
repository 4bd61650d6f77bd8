/*
 * module_api_test.cpp -- the module-author C++ API in one process, without
 * a daemon: ModuleManager (registerModule, getDependencies,
 * createComponent, loadModule, loadModulesFromJSON, getCurrentConfig),
 * BEDROCK_REGISTER_COMPONENT_TYPE, NamedDependency / ProviderDependency
 * handle access, Exception / DetailedException, AbstractComponent
 * defaults.
 *
 *   bedrock-module-api-test LIBMODULEA LIBMODULEB
 *
 * Prints "ok: ..." / "FAIL: ..." per check; exits with the failure count.
 */
#include <bedrock/AbstractComponent.hpp>
#include <bedrock/DetailedException.hpp>
#include <bedrock/ModuleManager.hpp>
#include <bedrock/NamedDependency.hpp>

#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
    std::cout << (ok ? "ok: " : "FAIL: ") << what << std::endl;
    if(!ok) ++failures;
}

void expect_throw(const std::string& what, const std::string& expected,
                  const std::function<void()>& f) {
    try {
        f();
        check(false, what + " (no exception)");
    } catch(const bedrock::Exception& ex) {
        check(std::string(ex.what()).find(expected) != std::string::npos,
              what + " (message: \"" + ex.what() + "\")");
    } catch(const std::exception& ex) {
        check(false, what + " (wrong exception type: " + ex.what() + ")");
    }
}

struct Dummy {
    int value = 42;
};

class LocalComponent : public bedrock::AbstractComponent {
    Dummy       m_dummy;
    std::string m_config;

  public:
    explicit LocalComponent(std::string config)
    : m_config(std::move(config)) {}

    static std::shared_ptr<bedrock::AbstractComponent>
    Register(const bedrock::ComponentArgs& args) {
        if(args.name == "throw") throw bedrock::Exception("refusing {}", args.name);
        return std::make_shared<LocalComponent>(args.config);
    }

    static std::vector<bedrock::Dependency>
    GetDependencies(const bedrock::ComponentArgs& args) {
        std::vector<bedrock::Dependency> deps{{"pool", "pool", true, false, false}};
        if(args.config.find("\"more\":true") != std::string::npos)
            deps.push_back({"others", "local_type", false, true, false});
        return deps;
    }

    void* getHandle() override { return &m_dummy; }

    std::string getConfig() override { return m_config; }
};

} // namespace

BEDROCK_REGISTER_COMPONENT_TYPE(local_type, LocalComponent)

int main(int argc, char** argv) {
    if(argc != 3) {
        std::cerr << "usage: " << argv[0] << " LIBMODULEA LIBMODULEB" << std::endl;
        return 100;
    }
    const std::string lib_a = argv[1];
    const std::string lib_b = argv[2];
    try {
        /* ---- ModuleManager with the macro's registration ------------- */
        bedrock::ComponentArgs args;
        args.name        = "p1";
        args.provider_id = 3;
        args.config      = "{\"more\":true}";
        auto deps        = bedrock::ModuleManager::getDependencies("local_type", args);
        const bool dynamic = bedrock::detail::dynamic_dependencies;
        check(!deps.empty() && deps[0].name == "pool" && deps[0].type == "pool" && deps[0].is_required,
              "getDependencies of the macro-registered type");
        check(deps.size() == (dynamic ? 2u : 1u),
              std::string("getDependencies ") + (dynamic ? "is per provider" : "was computed at registration"));
        auto c = bedrock::ModuleManager::createComponent("local_type", args);
        check(c && c->getConfig() == "{\"more\":true}", "createComponent uses Register");
        check(c && static_cast<Dummy*>(c->getHandle())->value == 42, "getHandle of the component");
        args.name = "throw";
        expect_throw("createComponent propagates Register's exception", "refusing throw",
                     [&] { bedrock::ModuleManager::createComponent("local_type", args); });
        expect_throw("unknown module (createComponent)",
                     "Could not find registration function for module \"nope\"",
                     [&] { bedrock::ModuleManager::createComponent("nope", args); });
        expect_throw("unknown module (getDependencies)",
                     "Could not find registration function for module \"nope\"",
                     [&] { bedrock::ModuleManager::getDependencies("nope", args); });
        check(!bedrock::ModuleManager::registerModule("local_type", &LocalComponent::Register,
                                                      &LocalComponent::GetDependencies),
              "registering a name twice returns false");
        check(bedrock::ModuleManager::registerModule(
                  "lambda_type",
                  [](const bedrock::ComponentArgs&) -> std::shared_ptr<bedrock::AbstractComponent> {
                      return std::make_shared<LocalComponent>("{\"lambda\":1}");
                  },
                  [](const bedrock::ComponentArgs&) { return std::vector<bedrock::Dependency>{}; }),
              "registerModule with lambdas");
        check(bedrock::ModuleManager::createComponent("lambda_type", args)->getConfig()
                  == "{\"lambda\":1}",
              "createComponent of the lambda type");
        check(!bedrock::ModuleManager::registerModule("", &LocalComponent::Register, nullptr),
              "registerModule with an empty name returns false");

        /* ---- loading libraries --------------------------------------- */
        check(bedrock::ModuleManager::getCurrentConfig() == "[]", "no library loaded yet: []");
        check(bedrock::ModuleManager::loadModule(lib_a), "loadModule(libModuleA.so)");
        check(!bedrock::ModuleManager::loadModule(lib_a), "loading it again returns false");
        expect_throw("loadModule of a missing library", "Could not dlopen library /nonexistent.so",
                     [] { bedrock::ModuleManager::loadModule("/nonexistent.so"); });
        bedrock::ModuleManager::loadModulesFromJSON("{\"module_b\": \"" + lib_b + "\"}");
        check(bedrock::ModuleManager::getCurrentConfig()
                  == "[\"" + lib_a + "\",\"" + lib_b + "\"]",
              "loadModulesFromJSON (object form) and getCurrentConfig");
        expect_throw("loadModulesFromJSON with a non-string", "Module library should be a string",
                     [] { bedrock::ModuleManager::loadModulesFromJSON("[12]"); });
        expect_throw("loadModulesFromJSON with bad JSON", "Invalid JSON",
                     [] { bedrock::ModuleManager::loadModulesFromJSON("[\"a\""); });
        bedrock::ModuleManager::loadModulesFromJSON("[]");

        /* ---- NamedDependency ------------------------------------------ */
        int marker = 0;
        auto pool_dep = std::make_shared<bedrock::NamedDependency>(
            "my_pool", "pool", thallium::pool(reinterpret_cast<ABT_pool>(&marker)));
        pool_dep->setRawHandle(&marker);
        check(pool_dep->getName() == "my_pool" && pool_dep->getType() == "pool", "getName/getType");
        check(pool_dep->getHandle<thallium::pool>().native_handle()
                  == reinterpret_cast<ABT_pool>(&marker),
              "pool: getHandle<thallium::pool>()");
        check(pool_dep->getHandle<ABT_pool>() == reinterpret_cast<ABT_pool>(&marker),
              "pool: getHandle<ABT_pool>()");
        check(pool_dep->getHandle<void*>() == &marker, "pool: getHandle<void*>()");
        expect_throw("pool: getHandle<int*>() throws",
                     "Could not cast NamedDependency \"my_pool\" (type should be \"pool\")",
                     [&] { pool_dep->getHandle<int*>(); });

        Dummy dummy;
        auto  foreign = std::make_shared<bedrock::detail::ForeignComponent>(&dummy);
        auto  prov    = std::make_shared<bedrock::ProviderDependency>(
            "a_provider", "some_module", bedrock::ComponentPtr(foreign), uint16_t(12));
        prov->setRawHandle(&dummy);
        check(prov->getProviderID() == 12, "ProviderDependency::getProviderID");
        check(prov->getHandle<bedrock::ComponentPtr>()->getHandle() == &dummy,
              "provider: getHandle<ComponentPtr>()->getHandle()");
        check(prov->getHandle<Dummy*>() == &dummy, "provider: getHandle<T*>() is the handle");
        expect_throw("provider: getHandle<std::string>() throws", "Could not cast NamedDependency",
                     [&] { prov->getHandle<std::string>(); });

        /* ---- AbstractComponent defaults ------------------------------- */
        LocalComponent lc("{}");
        expect_throw("default changeDependency", "Changing dependencies not supported",
                     [&] { lc.changeDependency("x", {}); });
        expect_throw("default migrate", "Migration not supported",
                     [&] { lc.migrate("a", 1, "{}", false); });
        expect_throw("default snapshot", "Snapshot not supported",
                     [&] { lc.snapshot("a", "{}", false); });
        expect_throw("default restore", "Restore not supported", [&] { lc.restore("a", "{}"); });
    } catch(const std::exception& ex) {
        check(false, std::string("unexpected exception: ") + ex.what());
    }
    std::cout << (failures ? "module API test FAILED" : "module API test passed") << std::endl;
    return failures > 100 ? 100 : failures;
}
