/*
 * bedrock/Client.hpp -- C++ client of Bedrock daemons (header-only, over
 * the C client API of bedrock/client.h; upstream Bedrock's class and method
 * names). Defines bedrock::Client, bedrock::ServiceHandle and
 * bedrock::ServiceGroupHandle; <bedrock/ServiceHandle.hpp> and
 * <bedrock/ServiceGroupHandle.hpp> include this header.
 *
 *   thallium::engine engine("na+sm", THALLIUM_CLIENT_MODE);
 *   bedrock::Client client(engine);
 *   bedrock::ServiceHandle daemon = client.makeServiceHandle(address);
 *   std::string config;
 *   daemon.getConfig(&config);          // the daemon's effective config
 *
 * Link with bedrock::client (find_package(bedrock)).
 *
 * Errors throw bedrock::Exception whose what() is the daemon's error text
 * (or the client library's, for network failures), e.g. queryConfig throws
 * the daemon's "Jx9 queries are not supported ..." message: this
 * implementation has no Jx9.
 *
 * Differences from upstream:
 *  - requests given an AsyncRequest complete synchronously (see
 *    bedrock/AsyncRequest.hpp); results and errors are still delivered at
 *    wait();
 *  - makeServiceHandle throws bedrock::Exception (not a thallium exception)
 *    when the address cannot be looked up;
 *  - migrateProvider / snapshotProvider / restoreProvider throw "... not
 *    supported by this implementation" (no component supports them and the
 *    C client API has no call for them);
 *  - ServiceHandle::shutdown() and ServiceGroupHandle::shutdown() are
 *    additions (remote shutdown of the daemon(s), as bedrock-shutdown does);
 *  - ServiceGroupHandle::refresh() fetches the Flock group's current view
 *    (flock_group_update_view) before rebuilding its handles, falling back
 *    to the cached view when no member answers; upstream only reads the
 *    cached view.
 * Objects are cheap shared handles (copies share one state); a
 * default-constructed one is invalid (operator bool is false) and its
 * methods throw "Invalid bedrock::<Class> object".
 */
#ifndef BEDROCK_CXX_CLIENT_HPP
#define BEDROCK_CXX_CLIENT_HPP

#include <bedrock/AsyncRequest.hpp>
#include <bedrock/Exception.hpp>
#include <bedrock/client.h>
#include <flock/flock-client.h>
#include <flock/flock-group.h>
#include <thallium.hpp>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace bedrock {

namespace tl = thallium;

class Client;
class ServiceHandle;
class ServiceGroupHandle;

namespace detail {

/* The bedrock::Exception for a failed C client call. */
inline Exception client_error(const char* call, bedrock_return_t rc) {
    const char* text = bedrock_last_error();
    if(text && *text) return Exception(std::string(text));
    return Exception(std::string(call) + " failed (error " + std::to_string(rc) + ")");
}

inline void check(const char* call, bedrock_return_t rc) {
    if(rc != BEDROCK_SUCCESS) throw client_error(call, rc);
}

/* Takes a malloc'd C string. */
inline std::string take_string(char* s) {
    if(!s) return std::string();
    std::string out(s);
    std::free(s);
    return out;
}

struct ClientImpl {
    tl::engine       engine;
    bedrock_client_t client = nullptr;

    explicit ClientImpl(const tl::engine& e)
    : engine(e) {
        if(!engine)
            throw Exception("bedrock::Client: invalid thallium engine");
        check("bedrock_client_init",
              bedrock_client_init(engine.get_margo_instance(), &client));
    }
    ClientImpl(const ClientImpl&)            = delete;
    ClientImpl& operator=(const ClientImpl&) = delete;
    ~ClientImpl() {
        if(client) bedrock_client_finalize(client);
    }
};

struct ServiceHandleImpl {
    std::shared_ptr<ClientImpl> client;
    bedrock_service_t           handle = nullptr;
    std::string                 address;
    uint16_t                    provider_id = 0;

    ServiceHandleImpl(std::shared_ptr<ClientImpl> c, const std::string& addr,
                      uint16_t pid)
    : client(std::move(c))
    , address(addr)
    , provider_id(pid) {
        check("bedrock_service_handle_create",
              bedrock_service_handle_create(client->client, address.c_str(),
                                            provider_id, &handle));
    }
    ServiceHandleImpl(const ServiceHandleImpl&)            = delete;
    ServiceHandleImpl& operator=(const ServiceHandleImpl&) = delete;
    ~ServiceHandleImpl() {
        if(handle) bedrock_service_handle_release(handle);
    }
};

struct ServiceGroupHandleImpl;

} // namespace detail

/* ------------------------------------------------------------------------ */

class Client {
    friend class ServiceHandle;
    friend class ServiceGroupHandle;

    std::shared_ptr<detail::ClientImpl> self;

    explicit Client(std::shared_ptr<detail::ClientImpl> impl)
    : self(std::move(impl)) {}

    void require() const {
        if(!self) throw Exception("Invalid bedrock::Client object");
    }

  public:
    /** Invalid client. */
    Client() = default;

    /** Client on an existing margo instance (a reference is held). */
    Client(margo_instance_id mid)
    : Client(tl::engine(mid)) {}

    /** Client on an engine (client or server mode). */
    Client(const tl::engine& engine)
    : self(std::make_shared<detail::ClientImpl>(engine)) {}

    Client(const Client&)            = default;
    Client(Client&&)                 = default;
    Client& operator=(const Client&) = default;
    Client& operator=(Client&&)      = default;
    ~Client()                        = default;

    const tl::engine& engine() const {
        require();
        return self->engine;
    }

    /** Handle on the daemon at `address` (no RPC is sent). */
    ServiceHandle makeServiceHandle(const std::string& address,
                                    uint16_t           provider_id = 0) const;

    /** Handles on the distinct processes of a Flock group file. */
    ServiceGroupHandle
    makeServiceGroupHandleFromFlockFile(const std::string& groupfile,
                                        uint16_t           provider_id = 0) const;

    /** Handles on the distinct processes of a Flock group. */
    ServiceGroupHandle
    makeServiceGroupHandleFromFlockGroup(flock_group_handle_t handle,
                                         uint16_t             provider_id = 0) const;

    /** One handle per address (no deduplication). */
    ServiceGroupHandle
    makeServiceGroupHandle(const std::vector<std::string>& addresses,
                           uint16_t                        provider_id = 0) const;

    operator bool() const { return static_cast<bool>(self); }
};

/* ------------------------------------------------------------------------ */

class ServiceHandle {
    friend class Client;
    friend class ServiceGroupHandle;

    std::shared_ptr<detail::ServiceHandleImpl> self;

    explicit ServiceHandle(std::shared_ptr<detail::ServiceHandleImpl> impl)
    : self(std::move(impl)) {}

    void require() const {
        if(!self) throw Exception("Invalid bedrock::ServiceHandle object");
    }

    static void require_idle(const AsyncRequest* req) {
        if(req && req->active())
            throw Exception("AsyncRequest object passed is already in use");
    }

    /* Runs `op` (which returns the closure writing the outputs) now, and
     * delivers its outcome now (req == nullptr) or at req->wait(). */
    template <typename Op> static void run(AsyncRequest* req, Op&& op) {
        if(!req) {
            op()();
            return;
        }
        *req = AsyncRequest::start(std::forward<Op>(op));
    }

    /* A call taking one string, with no output. */
    template <typename F>
    void simple(F fn, const char* name, const std::string& arg,
                AsyncRequest* req) const {
        require();
        require_idle(req);
        bedrock_service_t h = self->handle;
        run(req, [=]() -> std::function<void()> {
            detail::check(name, fn(h, arg.c_str()));
            return [] {};
        });
    }

    static void unsupported(AsyncRequest* req, const char* what) {
        run(req, [what]() -> std::function<void()> {
            throw Exception(std::string(what)
                            + " not supported by this implementation");
        });
    }

  public:
    /** Invalid handle. */
    ServiceHandle() = default;

    ServiceHandle(const ServiceHandle&)            = default;
    ServiceHandle(ServiceHandle&&)                 = default;
    ServiceHandle& operator=(const ServiceHandle&) = default;
    ServiceHandle& operator=(ServiceHandle&&)      = default;
    ~ServiceHandle()                               = default;

    Client client() const {
        require();
        return Client(self->client);
    }

    /** The daemon's address and Bedrock provider id. */
    tl::provider_handle providerHandle() const {
        require();
        return tl::provider_handle(self->client->engine.lookup(self->address),
                                   self->provider_id);
    }

    /** Ours: the address this handle was made with. */
    const std::string& address() const {
        require();
        return self->address;
    }

    /** Ours: the Bedrock provider id this handle was made with. */
    uint16_t providerId() const {
        require();
        return self->provider_id;
    }

    /** Loads a module library in the daemon (dlopen there). */
    void loadModule(const std::string& path, AsyncRequest* req = nullptr) const {
        simple(&bedrock_service_load_module, "bedrock_service_load_module", path, req);
    }

    /** Starts a provider from its JSON description; *provider_id_out gets its id. */
    void addProvider(const std::string& description,
                     uint16_t*          provider_id_out = nullptr,
                     AsyncRequest*      req             = nullptr) const {
        require();
        require_idle(req);
        bedrock_service_t h = self->handle;
        run(req, [=]() -> std::function<void()> {
            uint16_t id = 0;
            detail::check("bedrock_service_add_provider",
                  bedrock_service_add_provider(h, description.c_str(), &id));
            return [provider_id_out, id] {
                if(provider_id_out) *provider_id_out = id;
            };
        });
    }

    /** Asks the daemon to move a provider to another pool. */
    void changeProviderPool(const std::string& provider_name,
                            const std::string& pool_name,
                            AsyncRequest*      req = nullptr) const {
        require();
        require_idle(req);
        bedrock_service_t h = self->handle;
        run(req, [=]() -> std::function<void()> {
            detail::check("bedrock_service_change_provider_pool",
                  bedrock_service_change_provider_pool(h, provider_name.c_str(),
                                                       pool_name.c_str()));
            return [] {};
        });
    }

    void migrateProvider(const std::string& provider, const std::string& dest_addr,
                         uint16_t dest_provider_id, const std::string& migration_config,
                         bool remove_source, AsyncRequest* req = nullptr) const {
        (void)provider;
        (void)dest_addr;
        (void)dest_provider_id;
        (void)migration_config;
        (void)remove_source;
        require();
        require_idle(req);
        unsupported(req, "Provider migration is");
    }

    void snapshotProvider(const std::string& provider, const std::string& dest_path,
                          const std::string& snapshot_config, bool remove_source,
                          AsyncRequest* req = nullptr) const {
        (void)provider;
        (void)dest_path;
        (void)snapshot_config;
        (void)remove_source;
        require();
        require_idle(req);
        unsupported(req, "Provider snapshot is");
    }

    void restoreProvider(const std::string& provider, const std::string& src_path,
                         const std::string& restore_config,
                         AsyncRequest*      req = nullptr) const {
        (void)provider;
        (void)src_path;
        (void)restore_config;
        require();
        require_idle(req);
        unsupported(req, "Provider restore is");
    }

    /** Adds an Argobots pool from its JSON description. */
    void addPool(const std::string& config, AsyncRequest* req = nullptr) const {
        simple(&bedrock_service_add_pool, "bedrock_service_add_pool", config, req);
    }

    /** Adds an execution stream from its JSON description. */
    void addXstream(const std::string& config, AsyncRequest* req = nullptr) const {
        simple(&bedrock_service_add_xstream, "bedrock_service_add_xstream", config, req);
    }

    void removePool(const std::string& name, AsyncRequest* req = nullptr) const {
        simple(&bedrock_service_remove_pool, "bedrock_service_remove_pool", name, req);
    }

    void removeXstream(const std::string& name, AsyncRequest* req = nullptr) const {
        simple(&bedrock_service_remove_xstream, "bedrock_service_remove_xstream", name,
               req);
    }

    /** The daemon's effective configuration (JSON). */
    void getConfig(std::string* config, AsyncRequest* req = nullptr) const {
        require();
        bedrock_service_t h = self->handle;
        run(req, [=]() -> std::function<void()> {
            char* text = nullptr;
            detail::check("bedrock_service_get_config", bedrock_service_get_config(h, &text));
            std::string result = detail::take_string(text);
            return [config, result] {
                if(config) *config = result;
            };
        });
    }

    /** Jx9 query: this implementation's daemons answer "not supported". */
    void queryConfig(const std::string& script, std::string* result,
                     AsyncRequest* req = nullptr) const {
        require();
        bedrock_service_t h = self->handle;
        run(req, [=]() -> std::function<void()> {
            char* text = nullptr;
            detail::check("bedrock_service_query_config",
                  bedrock_service_query_config(h, script.c_str(), &text));
            std::string value = detail::take_string(text);
            return [result, value] {
                if(result) *result = value;
            };
        });
    }

    /** Ours: stops the daemon (margo remote shutdown). */
    void shutdown() const {
        require();
        detail::check("bedrock_service_shutdown", bedrock_service_shutdown(self->handle));
    }

    operator bool() const { return static_cast<bool>(self); }

};

/* ------------------------------------------------------------------------ */

namespace detail {

struct ServiceGroupHandleImpl {
    std::shared_ptr<ClientImpl> client;
    uint16_t                    provider_id = 0;
    flock_client_t              flock_client = nullptr; /* owned, may be NULL */
    flock_group_handle_t        flock_group  = nullptr; /* one reference */
    std::mutex                  mutex;                  /* guards the two below */
    std::vector<ServiceHandle>  members;
    bedrock_service_group_t     group = nullptr;        /* same addresses */

    ServiceGroupHandleImpl(std::shared_ptr<ClientImpl> c, uint16_t pid)
    : client(std::move(c))
    , provider_id(pid) {}
    ServiceGroupHandleImpl(const ServiceGroupHandleImpl&)            = delete;
    ServiceGroupHandleImpl& operator=(const ServiceGroupHandleImpl&) = delete;
    ~ServiceGroupHandleImpl() {
        if(group) bedrock_service_group_release(group);
        members.clear();
        if(flock_group) flock_group_handle_release(flock_group);
        if(flock_client) flock_client_finalize(flock_client);
    }
};

} // namespace detail

class ServiceGroupHandle {
    friend class Client;

    std::shared_ptr<detail::ServiceGroupHandleImpl> self;

    explicit ServiceGroupHandle(std::shared_ptr<detail::ServiceGroupHandleImpl> impl)
    : self(std::move(impl)) {}

    void require() const {
        if(!self) throw Exception("Invalid bedrock::ServiceGroupHandle object");
    }

    /* Replaces the member handles by one per address. */
    static void set_members(detail::ServiceGroupHandleImpl& impl,
                            const std::vector<std::string>& addresses) {
        std::vector<ServiceHandle> members;
        members.reserve(addresses.size());
        for(const std::string& a : addresses)
            members.push_back(ServiceHandle(std::make_shared<detail::ServiceHandleImpl>(
                impl.client, a, impl.provider_id)));
        std::vector<const char*> c_addresses;
        for(const std::string& a : addresses) c_addresses.push_back(a.c_str());
        bedrock_service_group_t group = nullptr;
        detail::check("bedrock_service_group_create",
                      bedrock_service_group_create(impl.client->client,
                                                   c_addresses.data(),
                                                   c_addresses.size(),
                                                   impl.provider_id, &group));
        std::lock_guard<std::mutex> lock(impl.mutex);
        std::swap(impl.members, members);
        std::swap(impl.group, group);
        if(group) bedrock_service_group_release(group);
    }

    /* Distinct consecutive member addresses of the cached Flock view. */
    static std::vector<std::string> view_addresses(flock_group_handle_t gh) {
        flock_group_view_t   view = FLOCK_GROUP_VIEW_INITIALIZER;
        const flock_return_t ret  = flock_group_get_view(gh, &view);
        if(ret != FLOCK_SUCCESS)
            throw Exception("Could not get the view of the flock group: "
                            + std::to_string(static_cast<int>(ret)));
        std::vector<std::string> addresses;
        for(size_t i = 0; i < flock_group_view_member_count(&view); ++i) {
            const char* a = flock_group_view_member_at(&view, i)->address;
            std::string address(a ? a : "");
            if(!addresses.empty() && addresses.back() == address) continue;
            addresses.push_back(address);
        }
        flock_group_view_clear(&view);
        return addresses;
    }

    static void from_flock(detail::ServiceGroupHandleImpl& impl) {
        set_members(impl, view_addresses(impl.flock_group));
    }

  public:
    /** Invalid handle. */
    ServiceGroupHandle() = default;

    ServiceGroupHandle(const ServiceGroupHandle&)            = default;
    ServiceGroupHandle(ServiceGroupHandle&&)                 = default;
    ServiceGroupHandle& operator=(const ServiceGroupHandle&) = default;
    ServiceGroupHandle& operator=(ServiceGroupHandle&&)      = default;
    ~ServiceGroupHandle()                                    = default;

    Client client() const {
        require();
        return Client(self->client);
    }

    /** Rebuilds the member handles from the Flock group (see top of file). */
    void refresh() const {
        require();
        if(!self->flock_group)
            throw Exception("ServiceGroupHandle not associated with an SSG or Flock group");
        (void)flock_group_update_view(self->flock_group, nullptr);
        from_flock(*self);
    }

    size_t size() const {
        require();
        std::lock_guard<std::mutex> lock(self->mutex);
        return self->members.size();
    }

    ServiceHandle operator[](size_t i) const {
        require();
        std::lock_guard<std::mutex> lock(self->mutex);
        if(i >= self->members.size())
            throw Exception("Invalid index " + std::to_string(i));
        return self->members[i];
    }

    /** {"<address>": <config>, ...} over the members (compact JSON). */
    void getConfig(std::string* config, AsyncRequest* req = nullptr) const {
        require();
        std::shared_ptr<detail::ServiceGroupHandleImpl> impl = self;
        ServiceHandle::run(req, [impl, config]() -> std::function<void()> {
            char* text = nullptr;
            {
                std::lock_guard<std::mutex> lock(impl->mutex);
                detail::check("bedrock_service_group_get_config",
                              bedrock_service_group_get_config(impl->group, &text));
            }
            std::string result = detail::take_string(text);
            return [config, result] {
                if(config) *config = result;
            };
        });
    }

    /** {"<address>": <result>, ...}: the first member error is thrown. */
    void queryConfig(const std::string& script, std::string* result,
                     AsyncRequest* req = nullptr) const {
        require();
        std::vector<ServiceHandle> members;
        {
            std::lock_guard<std::mutex> lock(self->mutex);
            members = self->members;
        }
        ServiceHandle::run(req, [members, script, result]() -> std::function<void()> {
            std::map<std::string, std::string> values;
            std::exception_ptr                 first_error;
            for(const ServiceHandle& m : members) {
                try {
                    std::string value;
                    m.queryConfig(script, &value);
                    values[m.address()] = value.empty() ? "null" : value;
                } catch(...) {
                    if(!first_error) first_error = std::current_exception();
                }
            }
            if(first_error) std::rethrow_exception(first_error);
            std::string out = "{";
            for(const auto& kv : values) {
                if(out.size() > 1) out += ",";
                out += "\"";
                for(const char c : kv.first) {
                    if(c == '"' || c == '\\') out += '\\';
                    out += c;
                }
                out += "\":" + kv.second;
            }
            out += "}";
            return [result, out] {
                if(result) *result = out;
            };
        });
    }

    /** Ours: stops every member (margo remote shutdown); throws the last failure. */
    void shutdown() const {
        require();
        std::lock_guard<std::mutex> lock(self->mutex);
        detail::check("bedrock_service_group_shutdown",
                      bedrock_service_group_shutdown(self->group));
    }

    operator bool() const { return static_cast<bool>(self); }
};

/* ------------------------------------------------------------------------ */
/* Client members that need the handle classes.                             */

inline ServiceHandle Client::makeServiceHandle(const std::string& address,
                                               uint16_t           provider_id) const {
    require();
    return ServiceHandle(
        std::make_shared<detail::ServiceHandleImpl>(self, address, provider_id));
}

inline ServiceGroupHandle
Client::makeServiceGroupHandle(const std::vector<std::string>& addresses,
                               uint16_t                        provider_id) const {
    require();
    auto impl = std::make_shared<detail::ServiceGroupHandleImpl>(self, provider_id);
    ServiceGroupHandle::set_members(*impl, addresses);
    return ServiceGroupHandle(std::move(impl));
}

inline ServiceGroupHandle
Client::makeServiceGroupHandleFromFlockFile(const std::string& groupfile,
                                            uint16_t           provider_id) const {
    require();
    auto impl = std::make_shared<detail::ServiceGroupHandleImpl>(self, provider_id);
    flock_return_t ret = flock_client_init(self->engine.get_margo_instance(),
                                           ABT_POOL_NULL, &impl->flock_client);
    if(ret != FLOCK_SUCCESS)
        throw Exception("Could not create flock client: "
                        + std::to_string(static_cast<int>(ret)));
    ret = flock_group_handle_create_from_file(impl->flock_client, groupfile.c_str(),
                                              0, &impl->flock_group);
    if(ret != FLOCK_SUCCESS)
        throw Exception("Could not create flock group handle: "
                        + std::to_string(static_cast<int>(ret)));
    ServiceGroupHandle::from_flock(*impl);
    return ServiceGroupHandle(std::move(impl));
}

inline ServiceGroupHandle
Client::makeServiceGroupHandleFromFlockGroup(flock_group_handle_t handle,
                                             uint16_t             provider_id) const {
    require();
    if(!handle) throw Exception("Invalid flock group handle");
    auto impl = std::make_shared<detail::ServiceGroupHandleImpl>(self, provider_id);
    const flock_return_t ret = flock_group_handle_ref_incr(handle);
    if(ret != FLOCK_SUCCESS)
        throw Exception("Could not reference the flock group handle: "
                        + std::to_string(static_cast<int>(ret)));
    impl->flock_group = handle;
    ServiceGroupHandle::from_flock(*impl);
    return ServiceGroupHandle(std::move(impl));
}

} // namespace bedrock

#endif /* BEDROCK_CXX_CLIENT_HPP */
