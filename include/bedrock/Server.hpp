/*
 * bedrock/Server.hpp -- a Bedrock server inside a C++ program, header-only
 * over bedrock/server.h: bedrock::Server, bedrock::MargoManager and
 * bedrock::ProviderManager with upstream Bedrock's names and signatures.
 *
 *   bedrock::Server server("na+sm", config_json);
 *   auto margo = server.getMargoManager();
 *   margo.addPool(R"({"name":"extra","kind":"fifo_wait","access":"mpmc"})");
 *   auto providers = server.getProviderManager();
 *   auto p = providers.addProviderFromJSON(
 *       R"({"name":"checker","type":"test_c","dependencies":{"flock_group":"my_group"}})");
 *   std::cout << p->getName() << " has id " << p->getProviderID() << "\n";
 *   server.waitForFinalize();
 *
 * Needs nlohmann/json.hpp (Debian: nlohmann-json3-dev), as upstream's
 * ProviderManager does. Every failure throws bedrock::Exception with the
 * server's message.
 *
 * Differences from upstream:
 *  - Jx9 configs throw ("not supported"), as the daemon does.
 *  - Managers are views of their server: a call after the server was
 *    finalized throws instead of using freed state.
 *  - Pools and xstreams are found by name or index; the ABT_pool /
 *    ABT_xstream overloads are not provided (there is no Argobots here).
 *  - The NamedDependency objects returned carry name and type; a pool's
 *    carries no ABT_pool handle (getHandle<ABT_pool>() throws). Providers
 *    returned by ProviderManager carry name, type and provider id.
 *  - migrateProvider / snapshotProvider / restoreProvider throw "not
 *    supported" (no module offers them here).
 *  - deregisterProvider refuses while another provider depends on the one
 *    named (upstream drops it while the dependent still uses it).
 *  - The MargoManager / ProviderManager constructors that build engines or
 *    managers outside a Server are not provided.
 */
#ifndef BEDROCK_CXX_SERVER_HPP
#define BEDROCK_CXX_SERVER_HPP

#if !defined(__cplusplus) || __cplusplus < 201703L
#error "bedrock/Server.hpp requires C++17 or later"
#endif

#if !__has_include(<nlohmann/json.hpp>)
#error "bedrock/Server.hpp needs nlohmann/json.hpp (Debian/Ubuntu: apt install nlohmann-json3-dev)"
#endif

#include <bedrock/Exception.hpp>
#include <bedrock/NamedDependency.hpp>
#include <bedrock/server.h>
#include <nlohmann/json.hpp>
#include <thallium.hpp>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace bedrock {

enum class ConfigType { JSON, JX9, TOML };

typedef std::unordered_map<std::string, std::string> Jx9ParamMap;

namespace detail {

/* What a Server and its managers share: the C handle (NULL once
 * finalized) and the thallium views of its engines. */
struct ServerState {
    bedrock_server_t handle = nullptr;
    std::mutex       mutex;
    std::vector<std::unique_ptr<thallium::engine>> engines;

    bedrock_server_t get() const {
        if(!handle) throw Exception("the Bedrock server has been finalized");
        return handle;
    }

    nlohmann::json config() const {
        char* text = bedrock_server_get_config(get());
        if(!text) throw Exception("bedrock_server_get_config returned NULL");
        nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
        std::free(text);
        if(j.is_discarded()) throw Exception("the server's config is not valid JSON");
        return j;
    }

    /* The margo section of engine i ("margo" is an array with several engines). */
    nlohmann::json margo(size_t i) const {
        nlohmann::json all = config()["margo"];
        if(!all.is_array()) all = nlohmann::json::array({all});
        if(i >= all.size())
            throw Exception("Engine index {} out of range (have {} engines)", i, all.size());
        return all[i];
    }
};

inline void check(int rc) {
    if(rc != BEDROCK_SUCCESS) throw Exception(std::string(bedrock_last_error()));
}

/* The name of entry `index`, or of the entry named `name`, in a list of
 * objects with a "name" (pools, xstreams, providers). */
inline const nlohmann::json* find_named(const nlohmann::json& list, const std::string& name) {
    for(const auto& e : list)
        if(e.value("name", "") == name) return &e;
    return nullptr;
}

} // namespace detail

class MargoManager {
  public:
    explicit MargoManager(std::shared_ptr<detail::ServerState> state)
    : m_state(std::move(state)) {}

    operator bool() const { return m_state && m_state->handle; }

    size_t getNumEngines() const {
        nlohmann::json all = m_state->config()["margo"];
        return all.is_array() ? all.size() : 1;
    }

    margo_instance_id getMargoInstance(size_t engineIndex = 0) const {
        margo_instance_id mid = bedrock_server_get_margo_instance(m_state->get(), engineIndex);
        if(!mid)
            throw Exception("Engine index {} out of range (have {} engines)", engineIndex,
                            getNumEngines());
        return mid;
    }

    const thallium::engine& getThalliumEngine(size_t engineIndex = 0) const {
        margo_instance_id mid = getMargoInstance(engineIndex);
        std::lock_guard<std::mutex> lock(m_state->mutex);
        auto& engines = m_state->engines;
        if(engines.size() <= engineIndex) engines.resize(engineIndex + 1);
        if(!engines[engineIndex]) engines[engineIndex].reset(new thallium::engine(mid));
        return *engines[engineIndex];
    }

    std::shared_ptr<NamedDependency> getDefaultHandlerPool(size_t engineIndex = 0) const {
        return getPool(m_state->margo(engineIndex).value("rpc_pool", "__primary__"));
    }

    std::shared_ptr<NamedDependency> getPool(const std::string& name) const {
        if(!detail::find_named(pools(), name))
            throw Exception("Could not find pool \"{}\"", name);
        return named(name, "pool");
    }

    std::shared_ptr<NamedDependency> getPool(uint32_t index) const {
        nlohmann::json list = pools();
        if(index >= list.size())
            throw Exception("Could not find pool at index {} ({} pools)", index, list.size());
        return named(list[index].value("name", ""), "pool");
    }

    size_t getNumPools() const { return pools().size(); }

    std::shared_ptr<NamedDependency> addPool(const std::string& config) {
        detail::check(bedrock_server_add_pool(m_state->get(), config.c_str()));
        nlohmann::json j = nlohmann::json::parse(config, nullptr, false);
        if(j.is_object() && j.contains("name") && j["name"].is_string())
            return getPool(j["name"].get<std::string>());
        return getPool(static_cast<uint32_t>(getNumPools() - 1));
    }

    void removePool(const std::string& name) {
        detail::check(bedrock_server_remove_pool(m_state->get(), name.c_str()));
    }

    void removePool(uint32_t index) { removePool(getPool(index)->getName()); }

    std::shared_ptr<NamedDependency> getXstream(const std::string& name) const {
        if(!detail::find_named(xstreams(), name))
            throw Exception("Could not find xstream \"{}\"", name);
        return named(name, "xstream");
    }

    std::shared_ptr<NamedDependency> getXstream(uint32_t index) const {
        nlohmann::json list = xstreams();
        if(index >= list.size())
            throw Exception("Could not find xstream at index {} ({} xstreams)", index, list.size());
        return named(list[index].value("name", ""), "xstream");
    }

    size_t getNumXstreams() const { return xstreams().size(); }

    std::shared_ptr<NamedDependency> addXstream(const std::string& config) {
        detail::check(bedrock_server_add_xstream(m_state->get(), config.c_str()));
        nlohmann::json j = nlohmann::json::parse(config, nullptr, false);
        if(j.is_object() && j.contains("name") && j["name"].is_string())
            return getXstream(j["name"].get<std::string>());
        return getXstream(static_cast<uint32_t>(getNumXstreams() - 1));
    }

    void removeXstream(const std::string& name) {
        detail::check(bedrock_server_remove_xstream(m_state->get(), name.c_str()));
    }

    void removeXstream(uint32_t index) { removeXstream(getXstream(index)->getName()); }

    std::string getCurrentConfig() const { return m_state->config()["margo"].dump(); }

  private:
    nlohmann::json pools() const { return m_state->margo(0)["argobots"]["pools"]; }
    nlohmann::json xstreams() const { return m_state->margo(0)["argobots"]["xstreams"]; }

    static std::shared_ptr<NamedDependency> named(const std::string& name, const char* type) {
        return std::make_shared<NamedDependency>(name, type, name);
    }

    std::shared_ptr<detail::ServerState> m_state;
};

class ProviderManager {
  public:
    using json = nlohmann::json;

    explicit ProviderManager(std::shared_ptr<detail::ServerState> state)
    : m_state(std::move(state)) {}

    operator bool() const { return m_state && m_state->handle; }

    size_t numProviders() const { return providers().size(); }

    std::shared_ptr<ProviderDependency> getProvider(const std::string& name) const {
        json list = providers();
        const json* p = detail::find_named(list, name);
        if(!p) throw Exception("Could not find provider with name \"{}\"", name);
        return describe(*p);
    }

    std::shared_ptr<ProviderDependency> getProvider(size_t index) const {
        json list = providers();
        if(index >= list.size())
            throw Exception("Invalid provider index {} ({} providers)", index, list.size());
        return describe(list[index]);
    }

    /* A name, or type:id. */
    std::shared_ptr<ProviderDependency> lookupProvider(const std::string& spec) const {
        json list = providers();
        auto colon = spec.find(':');
        for(const auto& p : list) {
            bool match = colon == std::string::npos
                           ? p.value("name", "") == spec
                           : p.value("type", "") == spec.substr(0, colon)
                                 && std::to_string(p.value("provider_id", -1)) == spec.substr(colon + 1);
            if(match) return describe(p);
        }
        throw Exception("Could not find provider with spec \"{}\"", spec);
    }

    void deregisterProvider(const std::string& spec) {
        detail::check(bedrock_server_remove_provider(m_state->get(), spec.c_str()));
    }

    std::shared_ptr<ProviderDependency> addProviderFromJSON(const json& description) {
        return addProviderFromJSON(description.dump());
    }

    /* Ours: the description as JSON text. */
    std::shared_ptr<ProviderDependency> addProviderFromJSON(const std::string& description) {
        uint16_t id = 0;
        detail::check(bedrock_server_add_provider(m_state->get(), description.c_str(), &id));
        json d = json::parse(description, nullptr, false);
        if(d.is_object() && d.contains("type") && d["type"].is_string())
            return lookupProvider(d["type"].get<std::string>() + ":" + std::to_string(id));
        return getProvider(numProviders() - 1);
    }

    std::shared_ptr<ProviderDependency> addProviderFromJSON(const char* description) {
        return addProviderFromJSON(std::string(description ? description : ""));
    }

    void addProviderListFromJSON(const json& list) {
        if(!list.is_array())
            throw Exception("Invalid JSON configuration passed to "
                            "ProviderManager::addProviderListFromJSON (should be an array)");
        for(const auto& description : list) addProviderFromJSON(description);
    }

    void migrateProvider(const std::string&, const std::string&, uint16_t, const std::string&, bool) {
        throw Exception("Provider migration is not supported by this implementation");
    }

    void snapshotProvider(const std::string&, const std::string&, const std::string&, bool) {
        throw Exception("Provider snapshots are not supported by this implementation");
    }

    void restoreProvider(const std::string&, const std::string&, const std::string&) {
        throw Exception("Provider restoration is not supported by this implementation");
    }

    json getCurrentConfig() const { return providers(); }

  private:
    json providers() const { return m_state->config()["providers"]; }

    static std::shared_ptr<ProviderDependency> describe(const json& p) {
        std::string name = p.value("name", "");
        return std::make_shared<ProviderDependency>(name, p.value("type", ""), name,
                                                    static_cast<uint16_t>(p.value("provider_id", 0)));
    }

    std::shared_ptr<detail::ServerState> m_state;
};

class Server {
  public:
    Server(const std::string& address, const std::string& config = "",
           ConfigType configType = ConfigType::JSON, const Jx9ParamMap& jx9Params = Jx9ParamMap())
    : m_state(std::make_shared<detail::ServerState>()) {
        (void)jx9Params;
        if(configType == ConfigType::JX9)
            throw Exception("Jx9 configurations are not supported by this implementation; "
                            "use JSON or TOML");
        const int format = configType == ConfigType::TOML ? BEDROCK_CONFIG_TOML : BEDROCK_CONFIG_JSON;
        char* error = nullptr;
        bedrock_server_t handle = nullptr;
        int rc = bedrock_server_init(address.c_str(), config.c_str(), format, &handle, &error);
        if(rc != BEDROCK_SUCCESS || !handle) {
            std::string message = error ? error : "bedrock_server_init failed";
            std::free(error);
            throw Exception(message);
        }
        m_state->handle = handle;
    }

    Server(const Server&)            = delete;
    Server(Server&&)                 = delete;
    Server& operator=(const Server&) = delete;
    Server& operator=(Server&&)      = delete;

    ~Server() { finalize(); }

    MargoManager getMargoManager() const { return MargoManager(m_state); }

    ProviderManager getProviderManager() const { return ProviderManager(m_state); }

    /* Blocks until the server is shut down (e.g. by bedrock-shutdown). */
    void waitForFinalize() {
        if(m_state->handle) bedrock_server_wait_for_finalize(m_state->handle);
        finalize();
    }

    void finalize() {
        bedrock_server_t handle = nullptr;
        {
            std::lock_guard<std::mutex> lock(m_state->mutex);
            handle = m_state->handle;
            m_state->handle = nullptr;
            m_state->engines.clear();
        }
        if(handle) bedrock_server_finalize(handle);
    }

    std::string getCurrentConfig() const { return m_state->config().dump(); }

  private:
    std::shared_ptr<detail::ServerState> m_state;
};

} // namespace bedrock

#endif /* BEDROCK_CXX_SERVER_HPP */
