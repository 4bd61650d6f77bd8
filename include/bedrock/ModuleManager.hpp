/*
 * bedrock/ModuleManager.hpp -- registry of Bedrock module types, as seen
 * by C++ module authors (header-only; upstream Bedrock's class and method
 * names).
 *
 * Modules here are C++ adapters over the C module ABI of bedrock/module.h:
 * registerModule() turns a RegisterFn / GetDependenciesFn pair into a
 * bedrock_module table and hands it to bedrock_register_module(). The
 * macro BEDROCK_REGISTER_COMPONENT_TYPE (bedrock/AbstractComponent.hpp)
 * calls it from a static object, so a module library registers its types
 * when the daemon dlopen()s it, as upstream.
 *
 * Differences from upstream, all due to the C ABI underneath:
 *  - GetDependenciesFn: when bedrock/module.h's bedrock_module table has the
 *    get_dependencies callback (detected at compile time), it is called
 *    for each provider with that provider's arguments (name, engine,
 *    provider_id 65535 if not yet assigned, tags, config; no resolved
 *    dependencies), as upstream, and once more when the provider is
 *    created (to learn the dependency types; an exception then fails the
 *    creation with its message, since the C callback cannot report one).
 *    With an older bedrock/module.h (static dependency table only), it is
 *    called ONCE, by registerModule(), with empty arguments (name "", null
 *    engine, provider_id 65535, no tags, config "{}"), and the list applies
 *    to every provider of the type.
 *  - createComponent() and getDependencies() only know the modules
 *    registered through this header in this process (per library when
 *    the library is built with hidden visibility); other modules (the
 *    built-in flock module, C modules) are only reachable through the
 *    daemon. Unknown names throw
 *    "Could not find registration function for module \"<name>\"".
 *  - A process can register at most BEDROCK_CXX_MAX_MODULES (64) C++ module
 *    types through this header; registerModule() returns false past that.
 *
 * The definitions are at the end of bedrock/AbstractComponent.hpp, which
 * this header includes.
 */
#ifndef BEDROCK_CXX_MODULE_MANAGER_HPP
#define BEDROCK_CXX_MODULE_MANAGER_HPP

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#ifndef BEDROCK_CXX_MAX_MODULES
#define BEDROCK_CXX_MAX_MODULES 64
#endif

namespace bedrock {

class AbstractComponent;
struct ComponentArgs;
struct Dependency;

class ModuleManager {
  public:
    ModuleManager() = delete;

    using RegisterFn =
        std::function<std::shared_ptr<AbstractComponent>(const ComponentArgs&)>;
    using GetDependenciesFn =
        std::function<std::vector<Dependency>(const ComponentArgs&)>;

    /**
     * Registers a module type under moduleName (the "type" of providers).
     * Returns false if the name is already registered (the first wins), if
     * get_dep_fn throws or returns an invalid list, or if no slot is left.
     */
    static bool registerModule(const std::string& moduleName,
                               RegisterFn         register_fn,
                               GetDependenciesFn  get_dep_fn);

    /**
     * dlopen()s a module library (RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE;
     * "" = the program itself); its static registrations run. Returns false
     * if this function already loaded it; throws bedrock::Exception
     * "Could not dlopen library <lib>: <dlerror>" on failure.
     */
    static bool loadModule(const std::string& library);

    /**
     * Loads the libraries of a JSON array of strings, or of the values of a
     * JSON object of strings (the tutorial's {"module": "lib.so"} form).
     */
    static void loadModulesFromJSON(const std::string& jsonString);

    /** JSON array of the libraries loaded by loadModule(), in load order. */
    static std::string getCurrentConfig();

    /** Creates a component with the module's RegisterFn (see above). */
    static std::shared_ptr<AbstractComponent>
    createComponent(const std::string& modName, const ComponentArgs& args);

    /** The module's dependency list for `args` (see above). */
    static std::vector<Dependency> getDependencies(const std::string& modName,
                                                   const ComponentArgs& args);
};

} // namespace bedrock

#include <bedrock/AbstractComponent.hpp>

#endif /* BEDROCK_CXX_MODULE_MANAGER_HPP */
