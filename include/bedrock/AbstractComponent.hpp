/*
 * bedrock/AbstractComponent.hpp -- writing Bedrock modules in C++
 * (header-only; upstream Bedrock's names: Dependency, ComponentArgs,
 * AbstractComponent, ComponentPtr, BEDROCK_REGISTER_COMPONENT_TYPE).
 *
 *   #include <bedrock/AbstractComponent.hpp>
 *
 *   class MyComponent : public bedrock::AbstractComponent {
 *     public:
 *       static std::shared_ptr<bedrock::AbstractComponent>
 *       Register(const bedrock::ComponentArgs& args);
 *       static std::vector<bedrock::Dependency>
 *       GetDependencies(const bedrock::ComponentArgs& args);
 *       void* getHandle() override;
 *   };
 *   BEDROCK_REGISTER_COMPONENT_TYPE(my_module, MyComponent)
 *
 * Build the module as a shared library linked with bedrock::module-api
 * (find_package(bedrock) or find_package(bedrock-module-api)) and list it
 * in the daemon config's "libraries"; providers then use
 * "type": "my_module".
 *
 * How it maps onto the C module ABI (bedrock/module.h):
 *  - The macro defines a static object whose constructor calls
 *    ModuleManager::registerModule(), which builds a bedrock_module table
 *    and calls bedrock_register_module() while the library loads.
 *  - GetDependencies is called for each provider, with its arguments but
 *    no resolved dependencies (provider_id may still be 65535), through
 *    the table's get_dependencies callback; with an older bedrock/module.h
 *    that has no such callback it is evaluated ONCE, at registration, with
 *    empty ComponentArgs (see bedrock/ModuleManager.hpp).
 *  - Register is called when a provider is created, with the provider's
 *    name, engine (thallium::engine over the margo instance, not owning),
 *    provider_id, tags, config (JSON text of the provider's "config"), and
 *    the resolved dependencies as NamedDependency / ProviderDependency
 *    objects (see bedrock/NamedDependency.hpp for the handle types).
 *    An exception thrown by Register fails the provider's creation with
 *    its what() as the cause.
 *  - getConfig() is what Bedrock reports as the provider's "config" (it
 *    must be JSON text); getHandle() is what dependents receive as the
 *    provider's handle (C modules and NamedDependency::getHandle<T*>()).
 *  - changeDependency / migrate / snapshot / restore are kept for source
 *    compatibility; the daemon never calls them (it answers that the
 *    operation is not supported).
 *  - The component is destroyed (last shared_ptr released by Bedrock) when
 *    the provider is, i.e. when the daemon shuts down.
 */
#ifndef BEDROCK_CXX_ABSTRACT_COMPONENT_HPP
#define BEDROCK_CXX_ABSTRACT_COMPONENT_HPP

#include <bedrock/ModuleManager.hpp>
#include <bedrock/Exception.hpp>
#include <bedrock/NamedDependency.hpp>
#include <bedrock/module.h>
#include <thallium.hpp>

#include <dlfcn.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace bedrock {

struct Dependency {
    std::string name;
    std::string type;
    bool        is_required;
    bool        is_array;
    bool        is_updatable;
};

typedef std::vector<std::shared_ptr<NamedDependency>> NamedDependencyList;

typedef std::unordered_map<std::string, NamedDependencyList> ResolvedDependencyMap;

struct ComponentArgs {
    std::string              name;         // name of the component (provider)
    thallium::engine         engine;       // engine it runs on
    uint16_t                 provider_id;  // provider id
    std::vector<std::string> tags;         // tags
    std::string              config;       // JSON configuration
    ResolvedDependencyMap    dependencies; // resolved dependencies
};

class AbstractComponent {
  public:
    virtual ~AbstractComponent() = default;

    /** JSON configuration reported by Bedrock for this provider. */
    virtual std::string getConfig() { return "{}"; }

    /** Handle given to the components that depend on this one. */
    virtual void* getHandle() = 0;

    virtual void changeDependency(const std::string&         dep_name,
                                  const NamedDependencyList& dependencies) {
        (void)dep_name;
        (void)dependencies;
        throw Exception("Changing dependencies not supported for this component");
    }

    virtual void migrate(const std::string& dest_addr, uint16_t dest_component_id,
                         const std::string& options_json, bool remove_source) {
        (void)dest_addr;
        (void)dest_component_id;
        (void)options_json;
        (void)remove_source;
        throw Exception("Migration not supported for this component");
    }

    virtual void snapshot(const std::string& dest_path,
                          const std::string& options_json, bool remove_source) {
        (void)dest_path;
        (void)options_json;
        (void)remove_source;
        throw Exception("Snapshot not supported for this component");
    }

    virtual void restore(const std::string& src_path, const char* options_json) {
        (void)src_path;
        (void)options_json;
        throw Exception("Restore not supported for this component");
    }
};

using ComponentPtr = std::shared_ptr<AbstractComponent>;

/* ======================================================================== */
/* Implementation: the C ABI adapter and ModuleManager.                     */
/* ======================================================================== */

namespace detail {

/* malloc'd copy (Bedrock free()s what modules hand it). */
inline char* malloc_copy(const std::string& s) noexcept {
    char* p = static_cast<char*>(std::malloc(s.size() + 1));
    if(p) std::memcpy(p, s.c_str(), s.size() + 1);
    return p;
}

/* A provider of this process made by a C or built-in module: dependents
 * written in C++ see it as a component whose getHandle() is its handle. */
class ForeignComponent : public AbstractComponent {
    void* m_handle;

  public:
    explicit ForeignComponent(void* handle) noexcept
    : m_handle(handle) {}
    void* getHandle() override { return m_handle; }
};

/* What a C++ module hands Bedrock as its component. */
struct ComponentBox {
    ComponentPtr component;
    std::string  name;
    uint16_t     provider_id;
};

typedef int (*c_create_fn)(const bedrock_component_args*, void**, char**);
typedef void (*c_add_dependency_fn)(void*, const char*, const char*, uint32_t);
typedef void (*c_get_dependencies_fn)(const bedrock_component_args*,
                                      c_add_dependency_fn, void*);

/* Whether this bedrock/module.h has the per-provider get_dependencies
 * callback (then GetDependencies is called for each provider). */
template <typename Table, typename = void>
struct has_get_dependencies : std::false_type {};
template <typename Table>
struct has_get_dependencies<
    Table, std::void_t<decltype(std::declval<Table&>().get_dependencies)>>
: std::true_type {};

constexpr bool dynamic_dependencies = has_get_dependencies<bedrock_module>::value;

inline uint32_t dependency_flags(const Dependency& d) {
    return (d.is_required ? BEDROCK_REQUIRED : 0u) | (d.is_array ? BEDROCK_ARRAY : 0u)
         | (d.is_updatable ? BEDROCK_UPDATABLE : 0u);
}

struct ModuleSlot {
    bool                              in_use = false; /* reserved */
    bool                              ready  = false; /* registered */
    bool                              dynamic = false; /* per-provider deps */
    std::string                       name;
    ModuleManager::RegisterFn         register_fn;
    ModuleManager::GetDependenciesFn  get_dep_fn;
    std::vector<Dependency>           declared;
    std::vector<bedrock_dependency>   c_deps;
    bedrock_module                    table{};
};

/* Process-wide state. Allocated once and never freed, so that it outlives
 * every component (static destruction order does not matter). */
struct ModuleRegistry {
    std::mutex                                  mutex;
    std::array<ModuleSlot, BEDROCK_CXX_MAX_MODULES> slots;
    std::vector<ComponentBox*>                  live;
    std::vector<std::string>                    libraries;
};

inline ModuleRegistry& module_registry() {
    static ModuleRegistry* registry = new ModuleRegistry();
    return *registry;
}

inline void report_error(const std::string& message) noexcept {
    std::fprintf(stderr, "[bedrock] %s\n", message.c_str());
}

/* The component of this process registered as provider (name, id). */
inline ComponentPtr find_local_component(const std::string& name,
                                         uint16_t           provider_id) {
    ModuleRegistry&             r = module_registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    for(ComponentBox* box : r.live)
        if(box->name == name && box->provider_id == provider_id)
            return box->component;
    return ComponentPtr();
}

inline std::string text_or(const char* s, const char* fallback) {
    return s ? std::string(s) : std::string(fallback);
}

/* ComponentArgs from the C arguments, without the dependencies. */
inline ComponentArgs make_base_args(const bedrock_component_args* a) {
    ComponentArgs args;
    args.name        = text_or(a->name, "");
    args.engine      = thallium::engine(a->mid);
    args.provider_id = a->provider_id;
    args.config      = text_or(a->config, "{}");
    for(size_t i = 0; i < a->num_tags && a->tags; ++i)
        args.tags.push_back(text_or(a->tags[i], ""));
    return args;
}

/* ComponentArgs from the C arguments of create(); `declared` gives the
 * type of a dependency whose type_ is empty. */
inline ComponentArgs make_component_args(const std::vector<Dependency>& declared,
                                         const bedrock_component_args*  a) {
    ComponentArgs args = make_base_args(a);
    for(size_t d = 0; d < a->num_dependencies && a->dependencies; ++d) {
        const bedrock_resolved_dependency& dep = a->dependencies[d];
        const std::string dep_name = text_or(dep.name, "");
        std::string       type     = text_or(dep.type_, "");
        if(type.empty())
            for(const Dependency& decl : declared)
                if(decl.name == dep_name) type = decl.type;
        NamedDependencyList list;
        for(size_t i = 0; i < dep.count; ++i) {
            const std::string rname = dep.names ? text_or(dep.names[i], "") : "";
            void*             raw   = dep.handles ? dep.handles[i] : nullptr;
            const uint16_t    pid   = dep.provider_ids ? dep.provider_ids[i] : 0;
            std::shared_ptr<NamedDependency> nd;
            if(type == "pool") {
                nd = std::make_shared<NamedDependency>(
                    rname, type, thallium::pool(static_cast<ABT_pool>(raw)));
            } else if(type == "margo") {
                nd = std::make_shared<NamedDependency>(
                    rname, type, static_cast<margo_instance_id>(raw));
            } else if(type == "xstream") {
                nd = std::make_shared<NamedDependency>(rname, type, std::any());
            } else {
                const size_t at = rname.find('@');
                if(at != std::string::npos) {
                    thallium::provider_handle ph;
                    if(args.engine)
                        ph = thallium::provider_handle(
                            args.engine.lookup(rname.substr(at + 1)), pid);
                    nd = std::make_shared<ProviderDependency>(rname, type, ph, pid);
                } else {
                    ComponentPtr component = find_local_component(rname, pid);
                    if(!component)
                        component = std::make_shared<ForeignComponent>(raw);
                    nd = std::make_shared<ProviderDependency>(rname, type,
                                                              component, pid);
                }
            }
            nd->setRawHandle(raw);
            list.push_back(std::move(nd));
        }
        args.dependencies[dep_name] = std::move(list);
    }
    return args;
}

inline int create_in_slot(size_t index, const bedrock_component_args* a,
                          void** component, char** error) noexcept {
    try {
        if(!a || !component) throw Exception("invalid arguments to create");
        ModuleRegistry& r = module_registry();
        ModuleSlot*     slot;
        {
            std::lock_guard<std::mutex> lock(r.mutex);
            slot = &r.slots[index];
            if(!slot->ready) throw Exception("module slot not registered");
        }
        /* A ready slot is never modified again: no lock needed below. */
        std::vector<Dependency> declared = slot->declared;
        if(slot->dynamic && slot->get_dep_fn) /* types, and GetDependencies errors */
            declared = slot->get_dep_fn(make_base_args(a));
        ComponentArgs args = make_component_args(declared, a);
        ComponentPtr  c    = slot->register_fn(args);
        if(!c)
            throw Exception("the Register function of module \"" + slot->name
                            + "\" returned a null component");
        auto box = std::make_unique<ComponentBox>(
            ComponentBox{std::move(c), args.name, args.provider_id});
        {
            std::lock_guard<std::mutex> lock(r.mutex);
            r.live.push_back(box.get());
        }
        *component = box.release();
        return 0;
    } catch(const std::exception& ex) {
        if(error) *error = malloc_copy(ex.what());
    } catch(...) {
        if(error) *error = malloc_copy("unknown exception thrown by the module");
    }
    return 1;
}

/* get_dependencies of the C table. It cannot report errors: if
 * GetDependencies throws, nothing is declared, and create() calls it again
 * and fails with its message. */
inline void get_dependencies_in_slot(size_t index, const bedrock_component_args* a,
                                     c_add_dependency_fn add, void* ctx) noexcept {
    try {
        if(!a || !add) return;
        ModuleRegistry& r = module_registry();
        ModuleSlot*     slot;
        {
            std::lock_guard<std::mutex> lock(r.mutex);
            slot = &r.slots[index];
            if(!slot->ready || !slot->get_dep_fn) return;
        }
        for(const Dependency& d : slot->get_dep_fn(make_base_args(a)))
            add(ctx, d.name.c_str(), d.type.c_str(), dependency_flags(d));
    } catch(...) {}
}

template <size_t I>
void slot_get_dependencies(const bedrock_component_args* a, c_add_dependency_fn add,
                           void* ctx) {
    get_dependencies_in_slot(I, a, add, ctx);
}

template <size_t... I>
const std::array<c_get_dependencies_fn, sizeof...(I)>&
get_dependencies_functions(std::index_sequence<I...>) {
    static const std::array<c_get_dependencies_fn, sizeof...(I)> table{
        {&slot_get_dependencies<I>...}};
    return table;
}

/* Sets table.get_dependencies when bedrock_module has it. */
template <typename Table>
auto install_get_dependencies(Table& table, size_t index, int)
    -> decltype((void)(table.get_dependencies = nullptr), bool()) {
    table.get_dependencies = get_dependencies_functions(
        std::make_index_sequence<BEDROCK_CXX_MAX_MODULES>())[index];
    return true;
}
template <typename Table> bool install_get_dependencies(Table&, size_t, long) {
    return false;
}

template <size_t I>
int slot_create(const bedrock_component_args* a, void** component,
                char** error) {
    return create_in_slot(I, a, component, error);
}

template <size_t... I>
const std::array<c_create_fn, sizeof...(I)>&
create_functions(std::index_sequence<I...>) {
    static const std::array<c_create_fn, sizeof...(I)> table{{&slot_create<I>...}};
    return table;
}

inline c_create_fn create_function(size_t index) {
    return create_functions(std::make_index_sequence<BEDROCK_CXX_MAX_MODULES>())[index];
}

inline void box_destroy(void* component) {
    ComponentBox* box = static_cast<ComponentBox*>(component);
    if(!box) return;
    {
        ModuleRegistry&             r = module_registry();
        std::lock_guard<std::mutex> lock(r.mutex);
        for(auto it = r.live.begin(); it != r.live.end(); ++it)
            if(*it == box) {
                r.live.erase(it);
                break;
            }
    }
    try {
        delete box;
    } catch(...) { report_error("a component's destructor threw"); }
}

inline char* box_get_config(void* component) {
    ComponentBox* box = static_cast<ComponentBox*>(component);
    if(!box || !box->component) return nullptr;
    try {
        return malloc_copy(box->component->getConfig());
    } catch(const std::exception& ex) {
        report_error(std::string("getConfig of provider \"") + box->name
                     + "\" threw: " + ex.what());
    } catch(...) { report_error("getConfig of provider \"" + box->name + "\" threw"); }
    return nullptr;
}

inline void* box_get_handle(void* component) {
    ComponentBox* box = static_cast<ComponentBox*>(component);
    if(!box || !box->component) return nullptr;
    try {
        return box->component->getHandle();
    } catch(...) {
        report_error("getHandle of provider \"" + box->name + "\" threw");
    }
    return nullptr;
}

inline ModuleSlot* find_ready_slot(ModuleRegistry& r, const std::string& name) {
    for(ModuleSlot& s : r.slots)
        if(s.ready && s.name == name) return &s;
    return nullptr;
}

/* Strings of a JSON array of strings, or values of an object of strings. */
inline std::vector<std::string> json_string_values(const std::string& text) {
    std::vector<std::string> out;
    size_t                   i    = 0;
    auto                     fail = [&](const std::string& why) {
        return Exception("Invalid JSON list of module libraries: " + why);
    };
    auto skip_ws = [&]() {
        while(i < text.size()
              && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n'
                  || text[i] == '\r'))
            ++i;
    };
    auto append_utf8 = [](std::string& s, unsigned long cp) {
        if(cp < 0x80) {
            s += static_cast<char>(cp);
        } else if(cp < 0x800) {
            s += static_cast<char>(0xC0 | (cp >> 6));
            s += static_cast<char>(0x80 | (cp & 0x3F));
        } else if(cp < 0x10000) {
            s += static_cast<char>(0xE0 | (cp >> 12));
            s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            s += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            s += static_cast<char>(0xF0 | (cp >> 18));
            s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            s += static_cast<char>(0x80 | (cp & 0x3F));
        }
    };
    auto hex4 = [&](size_t at) -> unsigned long {
        if(at + 4 > text.size()) throw fail("truncated \\u escape");
        unsigned long v = 0;
        for(size_t k = at; k < at + 4; ++k) {
            const char c = text[k];
            v <<= 4;
            if(c >= '0' && c <= '9') v |= static_cast<unsigned long>(c - '0');
            else if(c >= 'a' && c <= 'f') v |= static_cast<unsigned long>(c - 'a' + 10);
            else if(c >= 'A' && c <= 'F') v |= static_cast<unsigned long>(c - 'A' + 10);
            else throw fail("bad \\u escape");
        }
        return v;
    };
    auto parse_string = [&]() -> std::string {
        if(i >= text.size() || text[i] != '"')
            throw Exception("Module library should be a string");
        ++i;
        std::string s;
        while(i < text.size() && text[i] != '"') {
            char c = text[i++];
            if(c != '\\') {
                s += c;
                continue;
            }
            if(i >= text.size()) break;
            c = text[i++];
            switch(c) {
            case 'b': s += '\b'; break;
            case 'f': s += '\f'; break;
            case 'n': s += '\n'; break;
            case 'r': s += '\r'; break;
            case 't': s += '\t'; break;
            case 'u': {
                unsigned long cp = hex4(i);
                i += 4;
                if(cp >= 0xD800 && cp < 0xDC00 && i + 6 <= text.size()
                   && text[i] == '\\' && text[i + 1] == 'u') {
                    const unsigned long lo = hex4(i + 2);
                    if(lo >= 0xDC00 && lo < 0xE000) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        i += 6;
                    }
                }
                append_utf8(s, cp);
                break;
            }
            default: s += c; break;
            }
        }
        if(i >= text.size()) throw fail("unterminated string");
        ++i;
        return s;
    };
    skip_ws();
    if(i >= text.size()) return out;
    const char open = text[i];
    if(open != '[' && open != '{')
        throw fail("expected an array or an object");
    const char close = open == '[' ? ']' : '}';
    ++i;
    skip_ws();
    if(i < text.size() && text[i] == close) return out;
    while(true) {
        skip_ws();
        if(open == '{') {
            (void)parse_string();
            skip_ws();
            if(i >= text.size() || text[i] != ':') throw fail("expected ':'");
            ++i;
            skip_ws();
        }
        out.push_back(parse_string());
        skip_ws();
        if(i < text.size() && text[i] == ',') {
            ++i;
            continue;
        }
        if(i < text.size() && text[i] == close) break;
        throw fail("expected ',' or the end of the list");
    }
    return out;
}

inline std::string json_quote(const std::string& s) {
    std::string out = "\"";
    for(const char ch : s) {
        const unsigned char c = static_cast<unsigned char>(ch);
        switch(c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if(c < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof(buf), "\\u%04x", c);
                out += buf;
            } else {
                out += ch;
            }
        }
    }
    return out + "\"";
}

/* Object whose construction registers a component type (see the macro). */
template <typename ComponentType> class ComponentTypeRegistration {
  public:
    explicit ComponentTypeRegistration(const char* module_name) {
        ModuleManager::registerModule(module_name, &ComponentType::Register,
                                      &ComponentType::GetDependencies);
    }
};

} // namespace detail

inline bool ModuleManager::registerModule(const std::string& moduleName,
                                          RegisterFn         register_fn,
                                          GetDependenciesFn  get_dep_fn) {
    using namespace detail;
    if(moduleName.empty() || !register_fn) {
        report_error("registerModule: empty module name or no Register function");
        return false;
    }
    std::vector<Dependency> declared;
    if(get_dep_fn && !dynamic_dependencies) {
        try {
            ComponentArgs empty;
            empty.provider_id = 65535;
            empty.config      = "{}";
            declared          = get_dep_fn(empty);
        } catch(const std::exception& ex) {
            report_error("registerModule(\"" + moduleName
                         + "\"): GetDependencies threw: " + ex.what());
            return false;
        }
    }
    for(const Dependency& d : declared) {
        if(d.name.empty() || d.type.empty()) {
            report_error("registerModule(\"" + moduleName
                         + "\"): a dependency has an empty name or type");
            return false;
        }
    }
    ModuleRegistry& r = module_registry();
    size_t          index;
    {
        std::lock_guard<std::mutex> lock(r.mutex);
        if(find_ready_slot(r, moduleName)) {
            report_error("a module named \"" + moduleName
                         + "\" is already registered; keeping the first");
            return false;
        }
        for(index = 0; index < r.slots.size(); ++index)
            if(!r.slots[index].in_use) break;
        if(index == r.slots.size()) {
            report_error("registerModule(\"" + moduleName
                         + "\"): too many C++ module types (BEDROCK_CXX_MAX_MODULES)");
            return false;
        }
        r.slots[index].in_use = true;
    }
    ModuleSlot& slot = r.slots[index];
    slot.name        = moduleName;
    slot.register_fn = std::move(register_fn);
    slot.get_dep_fn  = std::move(get_dep_fn);
    slot.declared    = std::move(declared);
    slot.c_deps.clear();
    for(const Dependency& d : slot.declared) {
        bedrock_dependency c;
        c.name  = d.name.c_str();
        c.type_ = d.type.c_str();
        c.flags = dependency_flags(d);
        slot.c_deps.push_back(c);
    }
    slot.table.dependencies     = slot.c_deps.empty() ? nullptr : slot.c_deps.data();
    slot.table.num_dependencies = slot.c_deps.size();
    slot.table.create           = create_function(index);
    slot.table.destroy          = &box_destroy;
    slot.table.get_config       = &box_get_config;
    slot.table.get_handle       = &box_get_handle;
    slot.dynamic = slot.get_dep_fn && install_get_dependencies(slot.table, index, 0);
    {
        /* ready before the C registration: a provider may be created as
         * soon as bedrock_register_module returns. */
        std::lock_guard<std::mutex> lock(r.mutex);
        slot.ready = true;
    }
    if(bedrock_register_module(moduleName.c_str(), &slot.table) != 0) {
        std::lock_guard<std::mutex> lock(r.mutex);
        slot.ready  = false;
        slot.in_use = false;
        return false;
    }
    return true;
}

inline bool ModuleManager::loadModule(const std::string& library) {
    detail::ModuleRegistry& r = detail::module_registry();
    {
        std::lock_guard<std::mutex> lock(r.mutex);
        for(const std::string& l : r.libraries)
            if(l == library) return false;
    }
    void* handle = dlopen(library.empty() ? nullptr : library.c_str(),
                          RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE);
    if(!handle) {
        const char* why = dlerror();
        throw Exception("Could not dlopen library " + library + ": "
                        + (why ? why : "unknown error"));
    }
    std::lock_guard<std::mutex> lock(r.mutex);
    r.libraries.push_back(library);
    return true;
}

inline void ModuleManager::loadModulesFromJSON(const std::string& jsonString) {
    for(const std::string& library : detail::json_string_values(jsonString))
        loadModule(library);
}

inline std::string ModuleManager::getCurrentConfig() {
    detail::ModuleRegistry&     r = detail::module_registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    std::string                 out = "[";
    for(size_t i = 0; i < r.libraries.size(); ++i) {
        if(i) out += ",";
        out += detail::json_quote(r.libraries[i]);
    }
    return out + "]";
}

inline std::shared_ptr<AbstractComponent>
ModuleManager::createComponent(const std::string& modName, const ComponentArgs& args) {
    RegisterFn fn;
    {
        detail::ModuleRegistry&     r = detail::module_registry();
        std::lock_guard<std::mutex> lock(r.mutex);
        detail::ModuleSlot*         slot = detail::find_ready_slot(r, modName);
        if(!slot)
            throw Exception("Could not find registration function for module \""
                            + modName + "\"");
        fn = slot->register_fn;
    }
    return fn(args);
}

inline std::vector<Dependency>
ModuleManager::getDependencies(const std::string& modName, const ComponentArgs& args) {
    GetDependenciesFn fn;
    {
        detail::ModuleRegistry&     r = detail::module_registry();
        std::lock_guard<std::mutex> lock(r.mutex);
        detail::ModuleSlot*         slot = detail::find_ready_slot(r, modName);
        if(!slot)
            throw Exception("Could not find registration function for module \""
                            + modName + "\"");
        if(!slot->dynamic) return slot->declared; /* see ModuleManager.hpp */
        fn = slot->get_dep_fn;
    }
    return fn(args);
}

} // namespace bedrock

/*
 * Registers __component_type (a class with the static functions Register
 * and GetDependencies) as the module type __module_name (an identifier;
 * providers use "type": "<__module_name>"). Use at namespace scope, once
 * per module type. The registration object has internal linkage, so two
 * libraries can use the macro without their objects clashing.
 */
#define BEDROCK_REGISTER_COMPONENT_TYPE(__module_name, __component_type)          \
    static ::bedrock::detail::ComponentTypeRegistration<__component_type>         \
        bedrock_component_type_registration_##__module_name(#__module_name);

#endif /* BEDROCK_CXX_ABSTRACT_COMPONENT_HPP */
