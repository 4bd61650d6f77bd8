/*
 * thallium.hpp -- header-only C++17 SUBSET of Mochi Thallium, implemented over
 * the margo_* C functions exported by libmochi (declared in <margo.h>).
 *
 * This is NOT the full upstream Thallium. It provides the part of the API that
 * service clients and Bedrock/Flock code use to manage an engine and addresses:
 *
 *   thallium::exception, thallium::margo_exception
 *   thallium::pool              (a non-owning ABT_pool handle)
 *   thallium::engine            (init / finalize / self / lookup / remote shutdown / config)
 *   thallium::endpoint          (an owned hg_addr_t)
 *   thallium::provider_handle   (an endpoint plus a provider id)
 *
 * RPC definition (engine::define), bulk transfers, serialization, Argobots
 * threading wrappers (xstream, thread, mutex, ...) and timers are not provided.
 *
 * Ownership rules:
 *  - engine objects are cheap shared handles: copies share one internal state.
 *    An engine created by this header (from an address) owns its margo
 *    instance: when the last engine/endpoint referring to it goes away, the
 *    instance is finalized (margo_finalize) unless finalize(),
 *    finalize_and_wait() or wait_for_finalize() already took care of it, and
 *    then released. engine(mid, take_ownership=true) behaves the same way for
 *    an instance created elsewhere; engine(mid) (take_ownership=false) only
 *    holds a reference (margo_instance_ref_incr / margo_instance_release).
 *  - endpoint objects own their hg_addr_t (copies duplicate it with
 *    margo_addr_dup, destruction frees it with margo_addr_free) and keep the
 *    engine state they came from alive.
 *
 * Errors: any hg_return_t other than HG_SUCCESS from a margo call becomes a
 * thallium::margo_exception naming the call; using a null engine or endpoint
 * throws thallium::exception.
 */
#ifndef MOCHI_THALLIUM_HPP
#define MOCHI_THALLIUM_HPP

#if !defined(__cplusplus) || __cplusplus < 201703L
#error "thallium.hpp requires C++17 or later"
#endif

#include <margo.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <ostream>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

/* Opaque Mercury initialization options; only passed through to margo. */
struct hg_init_info;

#define THALLIUM_SERVER_MODE MARGO_SERVER_MODE
#define THALLIUM_CLIENT_MODE MARGO_CLIENT_MODE

#define THALLIUM_VERSION_MAJOR 0
#define THALLIUM_VERSION_MINOR 16
#define THALLIUM_VERSION_PATCH 0
#define THALLIUM_VERSION "0.16.0"
#define THALLIUM_VERSION_NUM 16000

namespace thallium {

/* ------------------------------------------------------------------------ */
/* Exceptions                                                                */
/* ------------------------------------------------------------------------ */

/**
 * Base class of every exception thrown by this header. The constructor
 * streams all its arguments, in order, into the message.
 */
class exception : public std::exception {
    std::string m_msg;

    template <typename... Args> static std::string concat(Args&&... args) {
        std::ostringstream ss;
        (ss << ... << std::forward<Args>(args));
        return ss.str();
    }

  public:
    exception() = default;

    template <typename Arg, typename... Args,
              typename = std::enable_if_t<
                  !std::is_base_of<exception, std::decay_t<Arg>>::value>>
    exception(Arg&& arg, Args&&... args)
    : m_msg(concat(std::forward<Arg>(arg), std::forward<Args>(args)...)) {}

    exception(const exception&)            = default;
    exception(exception&&)                 = default;
    exception& operator=(const exception&) = default;
    exception& operator=(exception&&)      = default;
    ~exception() override                  = default;

    const char* what() const noexcept override { return m_msg.c_str(); }
};

/**
 * Name of an hg_return_t value ("HG_SUCCESS", "HG_NOENTRY", ...), or
 * "HG_UNKNOWN_ERROR" for a value outside the table.
 */
inline const char* translate_margo_error_code(hg_return_t ret) noexcept {
    switch(static_cast<int>(ret)) {
    case 0: return "HG_SUCCESS";
    case 1: return "HG_PERMISSION";
    case 2: return "HG_NOENTRY";
    case 3: return "HG_INTERRUPT";
    case 4: return "HG_AGAIN";
    case 5: return "HG_NOMEM";
    case 6: return "HG_ACCESS";
    case 7: return "HG_FAULT";
    case 8: return "HG_BUSY";
    case 9: return "HG_EXIST";
    case 10: return "HG_NODEV";
    case 11: return "HG_INVALID_ARG";
    case 12: return "HG_PROTOCOL_ERROR";
    case 13: return "HG_OVERFLOW";
    case 14: return "HG_MSGSIZE";
    case 15: return "HG_PROTONOSUPPORT";
    case 16: return "HG_OPNOTSUPPORTED";
    case 17: return "HG_ADDRINUSE";
    case 18: return "HG_ADDRNOTAVAIL";
    case 19: return "HG_HOSTUNREACH";
    case 20: return "HG_TIMEOUT";
    case 21: return "HG_CANCELED";
    case 22: return "HG_IO_ERROR";
    case 23: return "HG_CHECKSUM_ERROR";
    case 24: return "HG_NA_ERROR";
    case 25: return "HG_OTHER_ERROR";
    default: return "HG_UNKNOWN_ERROR";
    }
}

/**
 * Thrown when a margo function fails. Carries the hg_return_t and the name
 * of the failing function. what() reads
 * "[<file>:<line>][<function>] <message>".
 */
class margo_exception : public exception {
    hg_return_t m_error_code;
    std::string m_function;

  public:
    margo_exception(const std::string& function, const std::string& file,
                    unsigned line, hg_return_t ret,
                    const std::string& message = std::string())
    : exception("[", file, ":", line, "][", function, "] ",
                message.empty() ? std::string(translate_margo_error_code(ret))
                                : message)
    , m_error_code(ret)
    , m_function(function) {}

    /** The hg_return_t returned by the failing call. */
    hg_return_t error() const noexcept { return m_error_code; }

    /** Name of the failing margo function. */
    const std::string& function() const noexcept { return m_function; }
};

} // namespace thallium

#ifndef MARGO_THROW
#define MARGO_THROW(__fun__, __ret__, __msg__)                                 \
    do {                                                                       \
        throw ::thallium::margo_exception(#__fun__, __FILE__, __LINE__,        \
                                          __ret__, __msg__);                   \
    } while(0)
#endif

#ifndef MARGO_ASSERT
#define MARGO_ASSERT(__ret__, __fun__)                                         \
    do {                                                                       \
        if((__ret__) != HG_SUCCESS) {                                          \
            MARGO_THROW(__fun__, __ret__,                                      \
                        ::thallium::translate_margo_error_code(__ret__));      \
        }                                                                      \
    } while(0)
#endif

namespace thallium {

namespace detail {

/* Converts the int status of margo functions that return int (0 = success)
 * into an hg_return_t: values in the hg_return_t range are kept, anything
 * else becomes HG_OTHER_ERROR. */
inline hg_return_t int_to_hg_return(int ret) noexcept {
    if(ret == 0) return HG_SUCCESS;
    if(ret > 0 && ret <= static_cast<int>(HG_OTHER_ERROR))
        return static_cast<hg_return_t>(ret);
    return HG_OTHER_ERROR;
}

/* State shared by all the copies of an engine and by the endpoints created
 * from it. It holds one margo reference (margo_instance_ref_incr), which
 * keeps the instance's memory valid while any C++ object uses it, and
 * releases it when the last copy goes away. An owning state also finalizes
 * the instance then, unless that already happened through this state. */
struct engine_state {
    margo_instance_id mid;
    bool              owns;    /* finalize the instance when the state dies */
    bool              has_ref; /* margo_instance_ref_incr succeeded */
    std::atomic<bool> finalized{false};

    engine_state(margo_instance_id m, bool own) noexcept
    : mid(m)
    , owns(own)
    , has_ref(m != MARGO_INSTANCE_NULL
              && margo_instance_ref_incr(m) == HG_SUCCESS) {}

    engine_state(const engine_state&)            = delete;
    engine_state& operator=(const engine_state&) = delete;

    ~engine_state() {
        if(mid == MARGO_INSTANCE_NULL) return;
        if(owns && !finalized.exchange(true)) margo_finalize(mid);
        if(has_ref) margo_instance_release(mid);
    }
};

} // namespace detail

class endpoint;
class provider_handle;

/* ------------------------------------------------------------------------ */
/* pool                                                                      */
/* ------------------------------------------------------------------------ */

/**
 * Non-owning handle to an Argobots pool managed by margo. The default
 * constructed pool is null (ABT_POOL_NULL).
 */
class pool {
    ABT_pool m_pool = ABT_POOL_NULL;

  public:
    typedef ABT_pool native_handle_type;

    pool() noexcept = default;
    explicit pool(ABT_pool p) noexcept
    : m_pool(p) {}

    native_handle_type native_handle() const noexcept { return m_pool; }
    bool is_null() const noexcept { return m_pool == ABT_POOL_NULL; }
    explicit operator bool() const noexcept { return !is_null(); }

    bool operator==(const pool& other) const noexcept {
        return m_pool == other.m_pool;
    }
    bool operator!=(const pool& other) const noexcept {
        return m_pool != other.m_pool;
    }
};

/* ------------------------------------------------------------------------ */
/* engine                                                                    */
/* ------------------------------------------------------------------------ */

class engine {
    friend class endpoint;

    std::shared_ptr<detail::engine_state> m_state;

    explicit engine(std::shared_ptr<detail::engine_state> state) noexcept
    : m_state(std::move(state)) {}

    margo_instance_id checked_mid(const char* func) const {
        if(!m_state || m_state->mid == MARGO_INSTANCE_NULL)
            throw exception("Trying to call engine::", func,
                            " with an invalid margo instance");
        return m_state->mid;
    }

    static std::shared_ptr<detail::engine_state>
    init_state(const std::string& addr, int mode, const margo_init_info* info) {
        margo_instance_id mid = margo_init_ext(addr.c_str(), mode, info);
        if(mid == MARGO_INSTANCE_NULL)
            throw margo_exception(
                "margo_init_ext", __FILE__, __LINE__, HG_OTHER_ERROR,
                "Could not initialize Margo with address \"" + addr + "\"");
        /* The reference margo_init_ext returns is consumed by the
         * margo_finalize that the owning state performs (or that the user
         * triggers); the state takes its own reference to release. */
        try {
            return std::make_shared<detail::engine_state>(mid, true);
        } catch(...) {
            margo_finalize(mid);
            throw;
        }
    }

    static std::shared_ptr<detail::engine_state>
    init_state_json(const std::string& addr, int mode, const char* json_config,
                    const hg_init_info* hg_opt) {
        margo_init_info info;
        std::memset(&info, 0, sizeof(info));
        info.json_config  = json_config;
        info.hg_init_info = const_cast<hg_init_info*>(hg_opt);
        return init_state(addr, mode, &info);
    }

    static std::shared_ptr<detail::engine_state>
    init_state_pools(const std::string& addr, int mode, const pool& progress_pool,
                     const pool& handler_pool) {
        margo_init_info info;
        std::memset(&info, 0, sizeof(info));
        info.progress_pool = progress_pool.native_handle();
        info.rpc_pool      = handler_pool.native_handle();
        return init_state(addr, mode, &info);
    }

    static std::string threads_config(bool use_progress_thread,
                                      std::int32_t rpc_thread_count) {
        return std::string("{\"use_progress_thread\":")
             + (use_progress_thread ? "true" : "false")
             + ",\"rpc_thread_count\":" + std::to_string(rpc_thread_count)
             + "}";
    }

  public:
    /** Null engine; every operation other than assignment throws. */
    engine() noexcept = default;

    /** Initializes margo with a margo_init_info structure. */
    engine(const std::string& addr, int mode, const margo_init_info* args)
    : m_state(init_state(addr, mode, args)) {}

    /**
     * Initializes margo. rpc_thread_count: 0 = RPCs run in the primary pool,
     * -1 = in the progress pool, N > 0 = in a new pool with N execution
     * streams.
     */
    engine(const std::string& addr, int mode, bool use_progress_thread = false,
           std::int32_t rpc_thread_count = 0,
           const hg_init_info* hg_opt = nullptr)
    : m_state(init_state_json(
        addr, mode, threads_config(use_progress_thread, rpc_thread_count).c_str(),
        hg_opt)) {}

    /** Initializes margo from a JSON configuration (margo's format). */
    engine(const std::string& addr, int mode, const char* json_config,
           const hg_init_info* hg_opt = nullptr)
    : m_state(init_state_json(addr, mode, json_config, hg_opt)) {}

    /** Initializes margo from a JSON configuration (margo's format). */
    engine(const std::string& addr, int mode, const std::string& json_config,
           const hg_init_info* hg_opt = nullptr)
    : m_state(init_state_json(addr, mode, json_config.c_str(), hg_opt)) {}

    /** Initializes margo with the given progress and RPC pools. */
    engine(const std::string& addr, int mode, const pool& progress_pool,
           const pool& default_handler_pool)
    : m_state(init_state_pools(addr, mode, progress_pool, default_handler_pool)) {}

    /**
     * Wraps an existing margo instance. With take_ownership == false the
     * engine only holds a reference and never finalizes the instance; with
     * take_ownership == true it finalizes it when the last copy goes away
     * (unless finalize() was called).
     */
    engine(margo_instance_id mid, bool take_ownership = false)
    : m_state(mid == MARGO_INSTANCE_NULL
                  ? nullptr
                  : std::make_shared<detail::engine_state>(mid, take_ownership)) {}

    engine(const engine&) noexcept            = default;
    engine(engine&&) noexcept                 = default;
    engine& operator=(const engine&) noexcept = default;
    engine& operator=(engine&&) noexcept      = default;
    ~engine()                                 = default;

    bool operator==(const engine& other) const noexcept {
        return get_margo_instance() == other.get_margo_instance();
    }
    bool operator!=(const engine& other) const noexcept {
        return !(*this == other);
    }

    /** True if this engine refers to a margo instance. */
    explicit operator bool() const noexcept {
        return get_margo_instance() != MARGO_INSTANCE_NULL;
    }

    operator margo_instance_id() const noexcept { return get_margo_instance(); }

    margo_instance_id get_margo_instance() const noexcept {
        return m_state ? m_state->mid : MARGO_INSTANCE_NULL;
    }

    /** Finalizes the engine (once; later calls do nothing). */
    void finalize() {
        margo_instance_id mid = checked_mid("finalize");
        if(!m_state->finalized.exchange(true)) margo_finalize(mid);
    }

    /** Blocks until the engine is finalized (locally or remotely). */
    void wait_for_finalize() {
        margo_instance_id mid = checked_mid("wait_for_finalize");
        margo_wait_for_finalize(mid);
        m_state->finalized.store(true);
    }

    /** Finalizes the engine and blocks until finalization has completed. */
    void finalize_and_wait() {
        margo_instance_id mid = checked_mid("finalize_and_wait");
        if(!m_state->finalized.exchange(true))
            margo_finalize_and_wait(mid);
        else
            margo_wait_for_finalize(mid);
    }

    /** Address of this engine. */
    endpoint self() const;

    /** Resolves an address string into an endpoint. */
    endpoint lookup(const std::string& address) const;

    pool get_handler_pool() const {
        margo_instance_id mid = checked_mid("get_handler_pool");
        ABT_pool          p   = ABT_POOL_NULL;
        int               ret = margo_get_handler_pool(mid, &p);
        if(ret != 0)
            MARGO_THROW(margo_get_handler_pool, detail::int_to_hg_return(ret),
                        "Could not get the default handler pool");
        return pool(p);
    }

    pool get_progress_pool() const {
        margo_instance_id mid = checked_mid("get_progress_pool");
        ABT_pool          p   = ABT_POOL_NULL;
        int               ret = margo_get_progress_pool(mid, &p);
        if(ret != 0)
            MARGO_THROW(margo_get_progress_pool, detail::int_to_hg_return(ret),
                        "Could not get the progress pool");
        return pool(p);
    }

    /** Lets other processes shut this engine down. */
    void enable_remote_shutdown() {
        margo_enable_remote_shutdown(checked_mid("enable_remote_shutdown"));
    }

    /** Asks the engine at the given endpoint to shut down. */
    void shutdown_remote_engine(const endpoint& ep) const;

    bool is_listening() const {
        return margo_is_listening(checked_mid("is_listening")) != 0;
    }

    /** JSON configuration of the margo instance. */
    std::string get_config() const {
        char* cfg = margo_get_config(checked_mid("get_config"));
        if(!cfg) return std::string();
        std::string result(cfg);
        std::free(cfg);
        return result;
    }
};

/* ------------------------------------------------------------------------ */
/* endpoint                                                                  */
/* ------------------------------------------------------------------------ */

/**
 * An address to which RPCs can be sent, obtained from engine::lookup() or
 * engine::self(). Owns its hg_addr_t.
 */
class endpoint {
    friend class engine;

    std::shared_ptr<detail::engine_state> m_state;
    hg_addr_t                             m_addr = HG_ADDR_NULL;

    endpoint(std::shared_ptr<detail::engine_state> state, hg_addr_t addr) noexcept
    : m_state(std::move(state))
    , m_addr(addr) {}

    margo_instance_id checked_mid(const char* func) const {
        if(!m_state || m_state->mid == MARGO_INSTANCE_NULL)
            throw exception("Trying to call endpoint::", func,
                            " on an endpoint without a valid engine");
        return m_state->mid;
    }

    hg_addr_t dup_addr(const char* func) const {
        if(m_addr == HG_ADDR_NULL) return HG_ADDR_NULL;
        hg_addr_t   copy = HG_ADDR_NULL;
        hg_return_t ret  = margo_addr_dup(checked_mid(func), m_addr, &copy);
        MARGO_ASSERT(ret, margo_addr_dup);
        return copy;
    }

    void release() noexcept {
        if(m_addr != HG_ADDR_NULL && m_state
           && m_state->mid != MARGO_INSTANCE_NULL)
            margo_addr_free(m_state->mid, m_addr);
        m_addr = HG_ADDR_NULL;
        m_state.reset();
    }

  public:
    /** Null endpoint. */
    endpoint() noexcept = default;

    /**
     * Wraps an hg_addr_t belonging to the engine's margo instance. With
     * take_ownership the endpoint frees addr; otherwise it duplicates it.
     */
    endpoint(const engine& e, hg_addr_t addr, bool take_ownership = true)
    : m_state(e.m_state) {
        if(!m_state) throw exception("Invalid engine");
        if(take_ownership || addr == HG_ADDR_NULL) {
            m_addr = addr;
        } else {
            hg_return_t ret = margo_addr_dup(m_state->mid, addr, &m_addr);
            MARGO_ASSERT(ret, margo_addr_dup);
        }
    }

    endpoint(const endpoint& other)
    : m_state(other.m_state)
    , m_addr(other.dup_addr("endpoint")) {}

    endpoint(endpoint&& other) noexcept
    : m_state(std::move(other.m_state))
    , m_addr(std::exchange(other.m_addr, HG_ADDR_NULL)) {}

    endpoint& operator=(const endpoint& other) {
        if(&other == this) return *this;
        hg_addr_t copy = other.dup_addr("operator=");
        release();
        m_state = other.m_state;
        m_addr  = copy;
        return *this;
    }

    endpoint& operator=(endpoint&& other) noexcept {
        if(&other == this) return *this;
        release();
        m_state = std::move(other.m_state);
        m_addr  = std::exchange(other.m_addr, HG_ADDR_NULL);
        return *this;
    }

    virtual ~endpoint() { release(); }

    /** Engine that created this endpoint (null engine for a null endpoint). */
    engine get_engine() const { return engine(m_state); }

    /** Address string (empty for a null endpoint). */
    operator std::string() const {
        if(m_addr == HG_ADDR_NULL) return std::string();
        margo_instance_id mid  = checked_mid("operator std::string");
        hg_size_t         size = 0;
        hg_return_t ret = margo_addr_to_string(mid, nullptr, &size, m_addr);
        MARGO_ASSERT(ret, margo_addr_to_string);
        std::vector<char> buf(static_cast<size_t>(size) + 1, '\0');
        size = static_cast<hg_size_t>(buf.size());
        ret  = margo_addr_to_string(mid, buf.data(), &size, m_addr);
        MARGO_ASSERT(ret, margo_addr_to_string);
        buf.back() = '\0';
        return std::string(buf.data());
    }

    bool is_null() const noexcept { return m_addr == HG_ADDR_NULL; }

    /**
     * The underlying hg_addr_t. With copy == true the caller gets a duplicate
     * it must free with margo_addr_free; otherwise the address stays owned by
     * this endpoint.
     */
    hg_addr_t get_addr(bool copy = false) const {
        if(!copy) return m_addr;
        return dup_addr("get_addr");
    }

    /** Two endpoints are equal if both are null or margo_addr_cmp says so. */
    bool operator==(const endpoint& other) const {
        if(is_null() && other.is_null()) return true;
        if(is_null() || other.is_null()) return false;
        return margo_addr_cmp(checked_mid("operator=="), m_addr, other.m_addr)
            != 0;
    }
    bool operator!=(const endpoint& other) const { return !(*this == other); }
};

inline std::ostream& operator<<(std::ostream& os, const endpoint& ep) {
    return os << static_cast<std::string>(ep);
}

/* ------------------------------------------------------------------------ */
/* provider_handle                                                           */
/* ------------------------------------------------------------------------ */

/** An endpoint plus the id of a provider living at that address. */
class provider_handle : public endpoint {
    std::uint16_t m_provider_id = 0;

  public:
    provider_handle() noexcept = default;

    provider_handle(endpoint e, std::uint16_t provider_id = 0) noexcept
    : endpoint(std::move(e))
    , m_provider_id(provider_id) {}

    provider_handle(const engine& e, hg_addr_t addr,
                    std::uint16_t provider_id = 0, bool take_ownership = true)
    : endpoint(e, addr, take_ownership)
    , m_provider_id(provider_id) {}

    provider_handle(const provider_handle&)            = default;
    provider_handle(provider_handle&&) noexcept        = default;
    provider_handle& operator=(const provider_handle&) = default;
    provider_handle& operator=(provider_handle&&)      = default;
    ~provider_handle() override                        = default;

    std::uint16_t provider_id() const noexcept { return m_provider_id; }
};

/* ------------------------------------------------------------------------ */
/* engine members that need endpoint                                         */
/* ------------------------------------------------------------------------ */

inline endpoint engine::self() const {
    margo_instance_id mid  = checked_mid("self");
    hg_addr_t         addr = HG_ADDR_NULL;
    hg_return_t       ret  = margo_addr_self(mid, &addr);
    MARGO_ASSERT(ret, margo_addr_self);
    return endpoint(m_state, addr);
}

inline endpoint engine::lookup(const std::string& address) const {
    margo_instance_id mid  = checked_mid("lookup");
    hg_addr_t         addr = HG_ADDR_NULL;
    hg_return_t       ret  = margo_addr_lookup(mid, address.c_str(), &addr);
    if(ret != HG_SUCCESS)
        MARGO_THROW(margo_addr_lookup, ret,
                    std::string(translate_margo_error_code(ret))
                        + ": could not look up address \"" + address + "\"");
    return endpoint(m_state, addr);
}

inline void engine::shutdown_remote_engine(const endpoint& ep) const {
    margo_instance_id mid = checked_mid("shutdown_remote_engine");
    if(ep.is_null())
        throw exception("engine::shutdown_remote_engine called with a null endpoint");
    int ret = margo_shutdown_remote_instance(mid, ep.get_addr());
    if(ret != 0) {
        hg_return_t hret = detail::int_to_hg_return(ret);
        MARGO_THROW(margo_shutdown_remote_instance, hret,
                    std::string(translate_margo_error_code(hret))
                        + ": could not shut down remote engine "
                        + static_cast<std::string>(ep));
    }
}

} // namespace thallium

#endif /* MOCHI_THALLIUM_HPP */
