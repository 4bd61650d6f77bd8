/*
 * thallium.hpp -- header-only C++17 SUBSET of Mochi Thallium, implemented over
 * the margo_* C functions exported by libmochi (declared in <margo.h>).
 *
 * This is NOT the full upstream Thallium. It provides engine and address
 * management and thallium's RPC programming model:
 *
 *   thallium::exception, thallium::margo_exception, thallium::timeout
 *   thallium::pool              (a non-owning ABT_pool handle)
 *   thallium::engine            (init / finalize / self / lookup / remote shutdown /
 *                                config / define)
 *   thallium::endpoint          (an owned hg_addr_t)
 *   thallium::provider_handle   (an endpoint plus a provider id)
 *   thallium::remote_procedure  (engine::define(name[, handler, provider_id, pool]);
 *                                on(endpoint | provider_handle), disable_response,
 *                                deregister)
 *   thallium::callable_remote_procedure  (operator()(args...), timed(duration,
 *                                args...), async(args...), timed_async)
 *   thallium::packed_data<>     (the response: as<T...>(), unpack, implicit conversion)
 *   thallium::async_response    (wait(), received())
 *   thallium::request           (respond(values...), get_endpoint(), get_provider_id())
 *   thallium::provider<T>       (define("name", &T::method[, pool]), get_engine,
 *                                get_provider_id; ignore_return_value)
 *   thallium::input_archive / output_archive  (serialization, see below)
 *
 * RPCs. A handler takes (const thallium::request&, Args...); it is called on
 * its pool's execution stream with the decoded arguments and answers with
 * request::respond (a non-void return value of an engine handler is
 * ignored). An exception leaving a handler never reaches margo: the caller
 * gets a thallium::exception carrying its what(). A provider<T> method
 * returning a value without taking the request responds with that value; a
 * void one without the request has its response disabled. A provider
 * deregisters its RPCs when destroyed. Errors on the caller's side: a failed
 * margo call throws thallium::margo_exception naming the call, the RPC and
 * the hg_return_t (HG_NOENTRY for an RPC or provider id the target does not
 * serve), a timeout throws thallium::timeout (a margo_exception with
 * HG_TIMEOUT). An async_response destroyed without wait() waits for its call.
 * Deregistering an RPC (remote_procedure::deregister, a provider's
 * destruction) or finalizing the engine stops new calls of its handler
 * (a request still queued for it gets HG_NOENTRY) without waiting for the
 * calls of it that run: the handler is freed when the last of those returns
 * (at once if none runs), so a handler may deregister its own RPC, destroy
 * its provider or finalize its engine.
 *
 * Serialization. All the arguments of a call (and all the values of a
 * response, after a status byte) are packed into one byte buffer, which goes
 * through margo as a single field (detail::proc_byte_buffer: a u64 length,
 * then hg_proc_raw bytes), so the wire is margo's. Supported: bool, the
 * other integer types, enums, float, double, std::string, std::vector,
 * std::list, std::deque, std::array, std::pair, std::tuple, std::map,
 * std::unordered_map, std::set, std::unordered_set, and user types with a
 * template<class A> void serialize(A& ar) member (ar & x) or save/load
 * members. Decoding checks every length against the bytes left and throws
 * thallium::exception on malformed input; the handler's arguments must use
 * all the bytes sent. The <thallium/serialization/...> headers upstream
 * programs include are there and just include this one.
 *
 * Bulk transfers. engine::expose(segments, bulk_mode) gives a
 * thallium::bulk (copies share one hg_bulk_t; engine::wrap adopts one);
 * select(offset, size) a bulk_segment, on(endpoint) a remote_bulk:
 * `remote >> local` pulls, `remote << local` pushes (also through timed(),
 * or pull_to/push_from over margo_bulk_itransfer), returning the bytes moved
 * or throwing thallium::margo_exception naming margo_bulk_transfer and the
 * hg_return_t (HG_PERMISSION for a direction the bulk_mode forbids,
 * HG_INVALID_ARG past the end, HG_NOENTRY once the owner freed it). A bulk
 * can be an RPC argument or response value. Over margo's bulk API, so the
 * bytes travel in RPCs to the owner (see "Bulk transfers" below).
 *
 * Argobots. thallium::mutex, recursive_mutex, condition_variable, rwlock,
 * eventual<T> (and eventual<void>), barrier, and threads: pool::make_thread(f)
 * gives a managed<thread> (join(); its destruction joins), make_thread(f,
 * anonymous{}) one nobody joins; thread::yield(), thread::sleep(engine, ms).
 * They wrap the ABT_* functions of <abt.h>; a handler that blocks on one
 * lends its execution stream to the pool's other work, as a user-level
 * thread yields under Argobots. Failures throw thallium::abt_exception
 * (mutex_exception etc. name the same class).
 *
 * Engine lifecycle: push_finalize_callback([owner,] f), pop_finalize_callback
 * (and the prefinalize names, the same list), create_timed_callback(f),
 * pools() (by name, index or handle; size, remove).
 *
 * Not provided (not declared): engine::expose with an hg_bulk_attr,
 * xstreams, tasks, futures, thread::self(), top_finalize_callback, anonymous/self RPCs, serialization of other types
 * (long double, pointers, std::optional/variant), cereal archives, the
 * engine's finalize/prefinalize callbacks and monitoring.
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
 *  - remote_procedure, callable_remote_procedure, request and provider
 *    objects also keep their engine state alive. Handlers are held by margo
 *    (freed at deregistration or finalization) and do not: a handler that
 *    captures an engine copy keeps an owning engine from finalizing by
 *    itself, so finalize it explicitly.
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
#include <margo-timer.h>

#include <algorithm>
#include <array>
#include <complex>
#include <forward_list>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <iostream>
#include <limits>
#include <list>
#include <map>
#include <memory>
#include <new>
#include <ostream>
#include <sstream>
#include <set>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
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

    /* Finalize callbacks pushed through engine::push_finalize_callback:
     * (owner, heap std::function) newest last, so that a pop frees the one
     * margo gave back. The ones that run free themselves. */
    std::mutex                                       callbacks_lock;
    std::vector<std::pair<const void*, void*>>       callbacks;

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
class remote_procedure;
class callable_remote_procedure;
template <typename... Ctx> class callable_remote_procedure_with_context;
class request;
template <typename... Ctx> class request_with_context;
template <typename T> class provider;
class bulk;
class bulk_segment;
class remote_bulk;
enum class bulk_mode : std::uint32_t;

/* ------------------------------------------------------------------------ */
/* pool                                                                      */
/* ------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------ */
/* Argobots wrappers: mutex, condition_variable, rwlock, eventual, barrier,  */
/* thread (over the ABT_* functions of <abt.h>, which margo.h includes)      */
/* ------------------------------------------------------------------------ */

/**
 * Thrown when an Argobots call fails: what() names the call and the
 * ABT_ERR_* code.
 */
class abt_exception : public exception {
    int m_error;

  public:
    abt_exception(const char* call, int err)
    : exception("[", call, "] returned ", abt_error_name(err), " (", err, ")")
    , m_error(err) {}

    /** The Argobots error code. */
    int error() const noexcept { return m_error; }

    /** Name of an Argobots error code ("ABT_ERR_INV_MUTEX", ...). */
    static std::string abt_error_name(int err) {
        size_t len = 0;
        if(ABT_error_get_str(err, nullptr, &len) != ABT_SUCCESS) return "ABT_ERR_UNKNOWN";
        std::vector<char> buf(len + 1);
        ABT_error_get_str(err, buf.data(), &len);
        return std::string(buf.data(), len);
    }
};
/* Upstream's names of the same exception for each wrapper. */
using mutex_exception              = abt_exception;
using condition_variable_exception = abt_exception;
using rwlock_exception             = abt_exception;
using eventual_exception           = abt_exception;
using barrier_exception            = abt_exception;
using thread_exception             = abt_exception;

namespace detail {
inline void abt_check(int ret, const char* call) {
    if(ret != ABT_SUCCESS) throw abt_exception(call, ret);
}

/* Runs a user's function called back from C (a thread, a timer, a finalize
 * callback): an exception must not unwind into the library, so it is
 * reported on stderr and ends the call there. */
template <typename F> void run_reporting(const char* what, F&& f) noexcept {
    try {
        f();
    } catch(const std::exception& e) {
        std::fprintf(stderr, "thallium: an exception left %s: %s\n", what, e.what());
    } catch(...) {
        std::fprintf(stderr, "thallium: an exception left %s\n", what);
    }
}

/* Owns one Argobots handle: a move hands it over (leaving NULL behind),
 * destruction frees it. The wrappers below derive from it. */
template <typename Handle, int (*Free)(Handle*)> class abt_owner {
  protected:
    Handle m_handle = nullptr;

    abt_owner() noexcept = default;
    ~abt_owner() { release(); }
    abt_owner(abt_owner&& other) noexcept
    : m_handle(other.m_handle) {
        other.m_handle = nullptr;
    }
    abt_owner& operator=(abt_owner&& other) noexcept {
        if(this != &other) {
            release();
            m_handle       = other.m_handle;
            other.m_handle = nullptr;
        }
        return *this;
    }
    void release() noexcept {
        if(m_handle != nullptr) Free(&m_handle);
    }

  public:
    typedef Handle native_handle_type;

    abt_owner(const abt_owner&)            = delete;
    abt_owner& operator=(const abt_owner&) = delete;
    native_handle_type native_handle() const noexcept { return m_handle; }
};
} // namespace detail

/**
 * An ABT_mutex. A handler blocked on it lends its execution stream to the
 * pool's other work, as a user-level thread blocked on one yields under
 * Argobots. Usable with std::lock_guard and std::unique_lock.
 */
class mutex : public detail::abt_owner<ABT_mutex, ABT_mutex_free> {
  protected:
    explicit mutex(bool recursive) {
        if(!recursive) {
            detail::abt_check(ABT_mutex_create(&m_handle), "ABT_mutex_create");
            return;
        }
        ABT_mutex_attr attr = ABT_MUTEX_ATTR_NULL;
        detail::abt_check(ABT_mutex_attr_create(&attr), "ABT_mutex_attr_create");
        ABT_mutex_attr_set_recursive(attr, ABT_TRUE);
        int ret = ABT_mutex_create_with_attr(attr, &m_handle);
        ABT_mutex_attr_free(&attr);
        detail::abt_check(ret, "ABT_mutex_create_with_attr");
    }

  public:
    mutex()
    : mutex(false) {}

    void lock() { detail::abt_check(ABT_mutex_lock(m_handle), "ABT_mutex_lock"); }
    /** As lock(): ours polls briefly and then sleeps either way. */
    void spin_lock() { detail::abt_check(ABT_mutex_spinlock(m_handle), "ABT_mutex_spinlock"); }
    bool try_lock() {
        int ret = ABT_mutex_trylock(m_handle);
        if(ret == ABT_ERR_MUTEX_LOCKED) return false;
        detail::abt_check(ret, "ABT_mutex_trylock");
        return true;
    }
    void unlock() { detail::abt_check(ABT_mutex_unlock(m_handle), "ABT_mutex_unlock"); }
};

/** An ABT_mutex that the thread holding it may lock again. */
class recursive_mutex : public mutex {
  public:
    recursive_mutex()
    : mutex(true) {}
};

/** An ABT_cond, waited on with a std::unique_lock<thallium::mutex>. */
class condition_variable : public detail::abt_owner<ABT_cond, ABT_cond_free> {
  public:
    condition_variable() { detail::abt_check(ABT_cond_create(&m_handle), "ABT_cond_create"); }

    void wait(std::unique_lock<mutex>& lock) {
        detail::abt_check(ABT_cond_wait(m_handle, lock.mutex()->native_handle()), "ABT_cond_wait");
    }
    template <class Predicate> void wait(std::unique_lock<mutex>& lock, Predicate&& pred) {
        while(!pred()) wait(lock);
    }
    /** Waits until notified or until the wall-clock time `abstime`;
     *  false if the time passed first. */
    bool wait_until(std::unique_lock<mutex>& lock, const struct timespec* abstime) {
        int ret = ABT_cond_timedwait(m_handle, lock.mutex()->native_handle(), abstime);
        if(ret == ABT_ERR_COND_TIMEDOUT) return false;
        detail::abt_check(ret, "ABT_cond_timedwait");
        return true;
    }
    template <typename Clock, typename Duration>
    bool wait_until(std::unique_lock<mutex>& lock, const std::chrono::time_point<Clock, Duration>& abs_time) {
        using namespace std::chrono;
        /* Any clock: the time left, from the wall clock's now. */
        auto wall = system_clock::now() + duration_cast<system_clock::duration>(abs_time - Clock::now());
        auto ns   = duration_cast<nanoseconds>(wall.time_since_epoch()).count();
        struct timespec ts;
        ts.tv_sec  = static_cast<time_t>(ns / 1000000000);
        ts.tv_nsec = static_cast<long>(ns % 1000000000);
        return wait_until(lock, &ts);
    }
    template <typename Rep, typename Period>
    bool wait_for(std::unique_lock<mutex>& lock, const std::chrono::duration<Rep, Period>& rel_time) {
        return wait_until(lock, std::chrono::steady_clock::now() + rel_time);
    }
    void notify_one() { detail::abt_check(ABT_cond_signal(m_handle), "ABT_cond_signal"); }
    void notify_all() { detail::abt_check(ABT_cond_broadcast(m_handle), "ABT_cond_broadcast"); }
};

/** An ABT_rwlock: many readers or one writer. */
class rwlock : public detail::abt_owner<ABT_rwlock, ABT_rwlock_free> {
  public:
    rwlock() { detail::abt_check(ABT_rwlock_create(&m_handle), "ABT_rwlock_create"); }

    void rdlock() { detail::abt_check(ABT_rwlock_rdlock(m_handle), "ABT_rwlock_rdlock"); }
    void wrlock() { detail::abt_check(ABT_rwlock_wrlock(m_handle), "ABT_rwlock_wrlock"); }
    void unlock() { detail::abt_check(ABT_rwlock_unlock(m_handle), "ABT_rwlock_unlock"); }
};

namespace detail {
/* The ABT_eventual shared by eventual<T> and eventual<void>; the value of
 * an eventual<T> lives in the C++ object, set before the eventual is. */
class eventual_base : public abt_owner<ABT_eventual, ABT_eventual_free> {
  protected:
    eventual_base() { abt_check(ABT_eventual_create(0, &m_handle), "ABT_eventual_create"); }
    void set() { abt_check(ABT_eventual_set(m_handle, nullptr, 0), "ABT_eventual_set"); }
    void wait_set() const { abt_check(ABT_eventual_wait(m_handle, nullptr), "ABT_eventual_wait"); }
    void reset_event() { abt_check(ABT_eventual_reset(m_handle), "ABT_eventual_reset"); }

  public:
    bool test() const {
        ABT_bool ready = ABT_FALSE;
        abt_check(ABT_eventual_test(m_handle, nullptr, &ready), "ABT_eventual_test");
        return ready == ABT_TRUE;
    }
};
} // namespace detail

/**
 * An ABT_eventual carrying a value of type T (default-constructible and
 * assignable): set_value once (until reset), wait() in any number of
 * threads.
 */
template <typename T> class eventual : public detail::eventual_base {
  public:
    using value_type = std::remove_cv_t<std::remove_reference_t<T>>;

  private:
    value_type m_value{};

  public:
    void set_value(const value_type& v) {
        m_value = v;
        set();
    }
    void set_value(value_type&& v) {
        m_value = std::move(v);
        set();
    }
    value_type wait() const& {
        wait_set();
        return m_value;
    }
    value_type&& wait() && {
        wait_set();
        return std::move(m_value);
    }
    void reset() {
        m_value = value_type{};
        reset_event();
    }
};

/** An ABT_eventual without a value. */
template <> class eventual<void> : public detail::eventual_base {
  public:
    void set_value() { set(); }
    void wait() const { wait_set(); }
    void reset() { reset_event(); }
};

/**
 * An ABT_future of compartments holding T*: set(ptr) fills the next; once
 * every one is set, the callback (if given) runs on the last setter with
 * the pointers in the order they were set, and wait() returns.
 */
template <typename T> class future {
    /* The callback and the count, carried into Argobots' C callback by
     * the first compartment (which the constructor sets). */
    struct when_ready_t {
        std::function<void(const std::vector<T*>&)> callback;
        std::uint32_t                               count;
    };
    ABT_future                    m_future = ABT_FUTURE_NULL;
    std::unique_ptr<when_ready_t> m_when_ready;

    static void on_ready(void** values) {
        auto*           w = static_cast<when_ready_t*>(values[0]);
        std::vector<T*> v;
        v.reserve(w->count);
        for(std::uint32_t i = 0; i < w->count; ++i) v.push_back(static_cast<T*>(values[i + 1]));
        detail::run_reporting("a future's callback", [&]() { w->callback(v); });
    }

  public:
    typedef ABT_future native_handle_type;

    explicit future(std::uint32_t compartments) {
        detail::abt_check(ABT_future_create(compartments, nullptr, &m_future), "ABT_future_create");
    }
    template <typename F>
    future(std::uint32_t compartments, F&& callback)
    : m_when_ready(new when_ready_t{std::function<void(const std::vector<T*>&)>(std::forward<F>(callback)), compartments}) {
        detail::abt_check(ABT_future_create(compartments + 1, &future::on_ready, &m_future), "ABT_future_create");
        detail::abt_check(ABT_future_set(m_future, m_when_ready.get()), "ABT_future_set");
    }
    future(const future&)            = delete;
    future& operator=(const future&) = delete;
    future(future&& other) noexcept
    : m_future(std::exchange(other.m_future, ABT_FUTURE_NULL))
    , m_when_ready(std::move(other.m_when_ready)) {}
    future& operator=(future&& other) noexcept {
        if(this != &other) {
            if(m_future != ABT_FUTURE_NULL) ABT_future_free(&m_future);
            m_future     = std::exchange(other.m_future, ABT_FUTURE_NULL);
            m_when_ready = std::move(other.m_when_ready);
        }
        return *this;
    }
    ~future() {
        if(m_future != ABT_FUTURE_NULL) ABT_future_free(&m_future);
    }

    void set(T* value) { detail::abt_check(ABT_future_set(m_future, value), "ABT_future_set"); }
    void wait() { detail::abt_check(ABT_future_wait(m_future), "ABT_future_wait"); }
    bool test() const {
        ABT_bool ready = ABT_FALSE;
        detail::abt_check(ABT_future_test(m_future, &ready), "ABT_future_test");
        return ready == ABT_TRUE;
    }
    explicit operator bool() const { return test(); }
    /** Empties the compartments (the callback stays). */
    void reset() {
        detail::abt_check(ABT_future_reset(m_future), "ABT_future_reset");
        if(m_when_ready) detail::abt_check(ABT_future_set(m_future, m_when_ready.get()), "ABT_future_set");
    }
    native_handle_type native_handle() const noexcept { return m_future; }
};
using future_exception = abt_exception;

/** An ABT_barrier: num_waiters threads meet, then all go on. */
class barrier : public detail::abt_owner<ABT_barrier, ABT_barrier_free> {
  public:
    explicit barrier(std::uint32_t num_waiters) {
        detail::abt_check(ABT_barrier_create(num_waiters, &m_handle), "ABT_barrier_create");
    }

    void wait() { detail::abt_check(ABT_barrier_wait(m_handle), "ABT_barrier_wait"); }
    void reinit(std::uint32_t num_waiters) {
        detail::abt_check(ABT_barrier_reinit(m_handle, num_waiters), "ABT_barrier_reinit");
    }
    std::uint32_t get_num_waiters() const {
        std::uint32_t n = 0;
        detail::abt_check(ABT_barrier_get_num_waiters(m_handle, &n), "ABT_barrier_get_num_waiters");
        return n;
    }
};

/**
 * A stopwatch (ABT_timer): start(), stop(), read() the seconds between;
 * wtime() is the wall-clock time in seconds. Copies are independent
 * stopwatches with the same readings.
 */
class timer : public detail::abt_owner<ABT_timer, ABT_timer_free> {
  public:
    timer() { detail::abt_check(ABT_timer_create(&m_handle), "ABT_timer_create"); }
    timer(const timer& other)
    : abt_owner() {
        detail::abt_check(ABT_timer_dup(other.m_handle, &m_handle), "ABT_timer_dup");
    }
    timer& operator=(const timer& other) {
        if(this != &other) {
            timer copy(other);
            std::swap(m_handle, copy.m_handle);
        }
        return *this;
    }
    timer(timer&&) noexcept            = default;
    timer& operator=(timer&&) noexcept = default;

    void start() { detail::abt_check(ABT_timer_start(m_handle), "ABT_timer_start"); }
    void stop() { detail::abt_check(ABT_timer_stop(m_handle), "ABT_timer_stop"); }
    /** Seconds between the last start() and stop(). */
    double read() const {
        double secs = 0.0;
        detail::abt_check(ABT_timer_read(m_handle, &secs), "ABT_timer_read");
        return secs;
    }
    operator double() const { return read(); }
    /** Wall-clock time in seconds (ABT_get_wtime). */
    static double wtime() { return ABT_get_wtime(); }
    /** What one start()/stop() pair costs, in seconds. */
    static double overhead() {
        double secs = 0.0;
        detail::abt_check(ABT_timer_get_overhead(&secs), "ABT_timer_get_overhead");
        return secs;
    }
};

/**
 * Owns an object whose handle must be freed explicitly (a thread made by
 * pool::make_thread): destroying the managed object destroys it (a
 * thread is joined first).
 */
template <typename T> class managed {
    T m_obj;

  public:
    explicit managed(T&& obj)
    : m_obj(std::move(obj)) {}
    ~managed() { m_obj.destroy(); }
    managed(const managed&)            = delete;
    managed& operator=(const managed&) = delete;
    /* A move leaves a null object behind (the handle types are copyable:
     * a plain move would leave the same handle to be destroyed twice). */
    managed(managed&& other) noexcept
    : m_obj(std::exchange(other.m_obj, T())) {}
    managed& operator=(managed&& other) noexcept {
        if(this != &other) {
            m_obj.destroy();
            m_obj = std::exchange(other.m_obj, T());
        }
        return *this;
    }
    T*       operator->() noexcept { return &m_obj; }
    const T* operator->() const noexcept { return &m_obj; }
    T&       operator*() noexcept { return m_obj; }
    const T& operator*() const noexcept { return m_obj; }
    /** Gives up ownership: the caller destroys the object. */
    T release() noexcept { return std::exchange(m_obj, T()); }
};

/** Tag for pool::make_thread(f, anonymous{}): a thread nobody joins. */
struct anonymous {};

class engine;

/**
 * A user-level thread: a function run as a job of a pool's execution
 * streams (pool::make_thread). An exception leaving the function is
 * printed to stderr and ends the thread.
 */
class thread {
    ABT_thread m_thread = ABT_THREAD_NULL;
    friend class pool;

    template <typename F> static void run(void* arg) {
        std::unique_ptr<F> f(static_cast<F*>(arg));
        detail::run_reporting("a thread's function", *f);
    }

  public:
    typedef ABT_thread native_handle_type;

    thread() noexcept = default;
    explicit thread(ABT_thread t) noexcept
    : m_thread(t) {}
    thread(const thread&)            = delete;
    thread& operator=(const thread&) = delete;
    thread(thread&& other) noexcept
    : m_thread(other.m_thread) {
        other.m_thread = ABT_THREAD_NULL;
    }
    thread& operator=(thread&& other) noexcept {
        std::swap(m_thread, other.m_thread);
        return *this;
    }

    /** Waits until the thread's function returned. */
    void join() { detail::abt_check(ABT_thread_join(m_thread), "ABT_thread_join"); }
    /** Joins the thread and frees its handle (managed<thread> calls it). */
    void destroy() noexcept {
        if(m_thread != ABT_THREAD_NULL) ABT_thread_free(&m_thread);
    }
    bool is_null() const noexcept { return m_thread == ABT_THREAD_NULL; }
    native_handle_type native_handle() const noexcept { return m_thread; }

    /** The thread's id (unique in the process). */
    std::uint64_t id() const {
        ABT_unit_id i = 0;
        detail::abt_check(ABT_thread_get_id(m_thread, &i), "ABT_thread_get_id");
        return i;
    }
    /** The calling thread's id (outside a user-level thread: the OS
     *  thread's, from the same numbering). */
    static std::uint64_t self_id() {
        ABT_unit_id i = 0;
        detail::abt_check(ABT_thread_self_id(&i), "ABT_thread_self_id");
        return i;
    }

    /** Lets the caller's execution stream run other queued work. */
    static void yield() { ABT_thread_yield(); }
    /** Sleeps for timeout_ms milliseconds (margo_thread_sleep). */
    static void sleep(const engine& eng, double timeout_ms);
};

/**
 * A tasklet (xstream::make_task, pool::make_task): a function run to
 * completion by a pool's stream. The same object as a thread here.
 */
class task {
    ABT_task m_task = ABT_TASK_NULL;

  public:
    typedef ABT_task native_handle_type;

    task() noexcept = default;
    explicit task(ABT_task t) noexcept
    : m_task(t) {}
    task(const task&)            = delete;
    task& operator=(const task&) = delete;
    task(task&& other) noexcept
    : m_task(std::exchange(other.m_task, ABT_TASK_NULL)) {}
    task& operator=(task&& other) noexcept {
        std::swap(m_task, other.m_task);
        return *this;
    }

    void join() { detail::abt_check(ABT_task_join(m_task), "ABT_task_join"); }
    void destroy() noexcept {
        if(m_task != ABT_TASK_NULL) ABT_task_free(&m_task);
    }
    std::uint64_t id() const {
        std::uint64_t i = 0;
        detail::abt_check(ABT_task_get_id(m_task, &i), "ABT_task_get_id");
        return i;
    }
    static std::uint64_t self_id() {
        std::uint64_t i = 0;
        detail::abt_check(ABT_task_self_id(&i), "ABT_task_self_id");
        return i;
    }
    bool is_null() const noexcept { return m_task == ABT_TASK_NULL; }
    native_handle_type native_handle() const noexcept { return m_task; }
};

/**
 * A callback run on the engine's handler pool some time after each
 * start(timeout_ms) (a margo timer): engine::create_timed_callback.
 * start() while it is pending throws; cancel() waits for a run in
 * progress on another thread; destruction cancels it.
 */
class timed_callback {
    friend class engine;
    margo_timer_t                          m_timer = MARGO_TIMER_NULL;
    std::unique_ptr<std::function<void()>> m_callback;

    timed_callback(margo_instance_id mid, std::function<void()> f)
    : m_callback(std::make_unique<std::function<void()>>(std::move(f))) {
        if(margo_timer_create(mid, &timed_callback::call, m_callback.get(), &m_timer) != 0)
            throw exception("thallium: could not create a timed_callback (see the log)");
    }
    static void call(void* arg) {
        detail::run_reporting("a timed_callback", *static_cast<std::function<void()>*>(arg));
    }
    void destroy() noexcept {
        if(m_timer == MARGO_TIMER_NULL) return;
        margo_timer_cancel(m_timer);
        margo_timer_destroy(m_timer);
        m_timer = MARGO_TIMER_NULL;
    }

  public:
    timed_callback(const timed_callback&)            = delete;
    timed_callback& operator=(const timed_callback&) = delete;
    timed_callback(timed_callback&& other) noexcept
    : m_timer(std::exchange(other.m_timer, MARGO_TIMER_NULL))
    , m_callback(std::move(other.m_callback)) {}
    timed_callback& operator=(timed_callback&& other) noexcept {
        if(this != &other) {
            destroy();
            m_timer    = std::exchange(other.m_timer, MARGO_TIMER_NULL);
            m_callback = std::move(other.m_callback);
        }
        return *this;
    }
    ~timed_callback() { destroy(); }

    void start(double timeout_ms) {
        if(margo_timer_start(m_timer, timeout_ms) != 0)
            throw exception("thallium: could not start a timed_callback: pending already, or its engine finalized");
    }
    void cancel() {
        if(margo_timer_cancel(m_timer) != 0) throw exception("thallium: could not cancel a timed_callback");
    }
};

/**
 * Non-owning handle to an Argobots pool managed by margo. The default
 * constructed pool is null (ABT_POOL_NULL).
 */
class pool {
    ABT_pool m_pool = ABT_POOL_NULL;
    friend class managed<pool>;

    /* What managed<pool> calls: frees a pool made by create(). */
    void destroy() noexcept {
        if(m_pool != ABT_POOL_NULL) ABT_pool_free(&m_pool);
    }

  public:
    typedef ABT_pool native_handle_type;

    /** Argobots' access kinds (every pool here is multi-producer,
     *  multi-consumer). */
    enum class access : std::int32_t {
        priv = ABT_POOL_ACCESS_PRIV,
        spsc = ABT_POOL_ACCESS_SPSC,
        mpsc = ABT_POOL_ACCESS_MPSC,
        spmc = ABT_POOL_ACCESS_SPMC,
        mpmc = ABT_POOL_ACCESS_MPMC
    };
    /** Argobots' pool kinds (every pool here blocks its streams when empty). */
    enum class kind : std::int32_t { fifo = ABT_POOL_FIFO, fifo_wait = ABT_POOL_FIFO_WAIT };

    /** A pool of the program's own (usable as an engine's handler pool,
     *  by xstream::create); freed with the managed object. */
    static managed<pool> create(access a = access::mpmc, kind k = kind::fifo_wait) {
        ABT_pool p   = ABT_POOL_NULL;
        int      ret = ABT_pool_create_basic(static_cast<ABT_pool_kind>(k), static_cast<ABT_pool_access>(a), ABT_FALSE, &p);
        detail::abt_check(ret, "ABT_pool_create_basic");
        return managed<pool>(pool(p));
    }

    /** Units waiting in the pool. */
    std::size_t size() const {
        std::size_t n = 0;
        detail::abt_check(ABT_pool_get_size(m_pool, &n), "ABT_pool_get_size");
        return n;
    }
    std::size_t total_size() const { return size(); }

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

    /** Runs f() as a user-level thread on this pool; join it through the
     *  result (its destruction joins it too). */
    template <typename F> managed<thread> make_thread(F&& f) const {
        return managed<thread>(thread(create_thread(std::forward<F>(f), true)));
    }
    /** Runs f() on this pool without a handle to join. */
    template <typename F> void make_thread(F&& f, anonymous) const {
        create_thread(std::forward<F>(f), false);
    }
    /** Runs f() as a tasklet on this pool. */
    template <typename F> managed<task> make_task(F&& f) const {
        return managed<task>(task(create_thread(std::forward<F>(f), true)));
    }
    template <typename F> void make_task(F&& f, anonymous) const { create_thread(std::forward<F>(f), false); }

  private:
    template <typename F> ABT_thread create_thread(F&& f, bool joinable) const {
        using Fn = std::decay_t<F>;
        auto*      fn = new Fn(std::forward<F>(f));
        ABT_thread t  = ABT_THREAD_NULL;
        int        ret = ABT_thread_create(m_pool, &thread::run<Fn>, fn, ABT_THREAD_ATTR_NULL, joinable ? &t : nullptr);
        if(ret != ABT_SUCCESS) {
            delete fn;
            throw abt_exception("ABT_thread_create", ret);
        }
        return t;
    }
};

/* ------------------------------------------------------------------------ */
/* logger                                                                    */
/* ------------------------------------------------------------------------ */

/**
 * A user's logger: derive from it, implement the six levels, and install
 * it for every engine (set_global_logger) or one (engine::set_logger); it
 * must outlive its use. An exception leaving a method is dropped.
 */
class logger {
  public:
    enum class level : int {
        external = MARGO_LOG_EXTERNAL,
        trace    = MARGO_LOG_TRACE,
        debug    = MARGO_LOG_DEBUG,
        info     = MARGO_LOG_INFO,
        warning  = MARGO_LOG_WARNING,
        error    = MARGO_LOG_ERROR,
        critical = MARGO_LOG_CRITICAL
    };

    virtual ~logger()                            = default;
    virtual void trace(const char* msg) const    = 0;
    virtual void debug(const char* msg) const    = 0;
    virtual void info(const char* msg) const     = 0;
    virtual void warning(const char* msg) const  = 0;
    virtual void error(const char* msg) const    = 0;
    virtual void critical(const char* msg) const = 0;

    /** Installs l for every message (nullptr: back to stderr). */
    static void set_global_logger(logger* l) {
        margo_logger ml = to_margo(l);
        if(margo_set_global_logger(l ? &ml : nullptr) != 0) throw exception("thallium: cannot set the global logger");
    }
    static void set_global_log_level(level l) {
        if(margo_set_global_log_level(static_cast<margo_log_level>(l)) != 0)
            throw exception("thallium: cannot set the global log level");
    }

  private:
    friend class engine;
    template <void (logger::*Method)(const char*) const> static void forward(void* uargs, const char* msg) {
        try {
            (static_cast<const logger*>(uargs)->*Method)(msg);
        } catch(...) {
        }
    }
    static margo_logger to_margo(logger* l) {
        margo_logger ml;
        ml.uargs    = static_cast<void*>(l);
        ml.trace    = &forward<&logger::trace>;
        ml.debug    = &forward<&logger::debug>;
        ml.info     = &forward<&logger::info>;
        ml.warning  = &forward<&logger::warning>;
        ml.error    = &forward<&logger::error>;
        ml.critical = &forward<&logger::critical>;
        return ml;
    }
};

/**
 * Argobots' predefined schedulers (scheduler::predef), for
 * xstream::create. Each serves its pools in order and blocks when they are
 * empty; custom schedulers are not available.
 */
class scheduler {
    ABT_sched m_sched = ABT_SCHED_NULL;
    friend class managed<scheduler>;
    void destroy() noexcept {
        if(m_sched != ABT_SCHED_NULL) ABT_sched_free(&m_sched);
    }

  public:
    enum class predef : std::int32_t {
        deflt      = ABT_SCHED_DEFAULT,
        basic      = ABT_SCHED_BASIC,
        prio       = ABT_SCHED_PRIO,
        randws     = ABT_SCHED_RANDWS,
        basic_wait = ABT_SCHED_BASIC_WAIT
    };
    typedef ABT_sched native_handle_type;

    scheduler() noexcept = default;
    explicit scheduler(ABT_sched s) noexcept
    : m_sched(s) {}
    native_handle_type native_handle() const noexcept { return m_sched; }

    /** A predefined scheduler over the pools [begin, end), in order. */
    template <typename I> static managed<scheduler> create(predef spd, const I& begin, const I& end) {
        std::vector<ABT_pool> pools;
        for(auto it = begin; it != end; ++it) pools.push_back(it->native_handle());
        ABT_sched s = ABT_SCHED_NULL;
        detail::abt_check(ABT_sched_create_basic(static_cast<ABT_sched_predef>(spd), static_cast<int>(pools.size()),
                                                 pools.data(), ABT_SCHED_CONFIG_NULL, &s),
                          "ABT_sched_create_basic");
        return managed<scheduler>(scheduler(s));
    }
    static managed<scheduler> create(predef spd, const pool& p) {
        const pool* one = &p;
        return create(spd, one, one + 1);
    }
};

/**
 * Argobots' initialization for a program's lifetime: the constructor
 * initializes, the destructor finalizes (margo programs need neither).
 */
class abt {
  public:
    abt() { initialize(); }
    ~abt() { finalize(); }
    abt(const abt&)            = delete;
    abt& operator=(const abt&) = delete;

    static void initialize() { detail::abt_check(ABT_init(0, nullptr), "ABT_init"); }
    static bool initialized() { return ABT_initialized() == ABT_SUCCESS; }
    static void finalize() { ABT_finalize(); }
};

/**
 * An execution stream (ABT_xstream): margo's (engine::xstreams()), one the
 * program makes (create(), owned by the managed object: destroying it
 * joins it), or the primary one (self() off streams: the program's main
 * thread; work given to it runs on a thread serving its pool).
 */
class xstream {
    ABT_xstream m_xstream = ABT_XSTREAM_NULL;
    friend class managed<xstream>;

    /* What managed<xstream> calls: joins and frees a stream made by create(). */
    void destroy() noexcept {
        if(m_xstream != ABT_XSTREAM_NULL) ABT_xstream_free(&m_xstream);
    }
    /* Runs create(&x) (an Argobots call making a stream) and owns x. */
    template <typename Create> static managed<xstream> made(Create&& create, const char* call) {
        ABT_xstream x = ABT_XSTREAM_NULL;
        detail::abt_check(create(&x), call);
        return managed<xstream>(xstream(x));
    }
    pool first_pool() const {
        ABT_pool p = ABT_POOL_NULL;
        detail::abt_check(ABT_xstream_get_main_pools(m_xstream, 1, &p), "ABT_xstream_get_main_pools");
        return pool(p);
    }

  public:
    typedef ABT_xstream native_handle_type;

    xstream() noexcept = default;
    explicit xstream(ABT_xstream x) noexcept
    : m_xstream(x) {}

    /** A stream with the default scheduler over a new pool of its own. */
    static managed<xstream> create() {
        return made([](ABT_xstream* x) { return ABT_xstream_create(ABT_SCHED_NULL, x); }, "ABT_xstream_create");
    }
    /** A stream with a predefined scheduler over one pool. */
    static managed<xstream> create(scheduler::predef spd, const pool& p) {
        const pool* one = &p;
        return create(spd, one, one + 1);
    }
    /** ... over the pools [begin, end), in order. */
    template <typename I> static managed<xstream> create(scheduler::predef spd, const I& begin, const I& end) {
        std::vector<ABT_pool> pools;
        for(auto it = begin; it != end; ++it) pools.push_back(it->native_handle());
        return made(
            [&](ABT_xstream* x) {
                return ABT_xstream_create_basic(static_cast<ABT_sched_predef>(spd), static_cast<int>(pools.size()),
                                                pools.data(), ABT_SCHED_CONFIG_NULL, x);
            },
            "ABT_xstream_create_basic");
    }
    /** A stream running a scheduler made by scheduler::create. */
    static managed<xstream> create(const scheduler& sched) {
        return made([&](ABT_xstream* x) { return ABT_xstream_create(sched.native_handle(), x); }, "ABT_xstream_create");
    }

    /** The calling thread's stream. */
    static xstream self() {
        ABT_xstream x = ABT_XSTREAM_NULL;
        detail::abt_check(ABT_xstream_self(&x), "ABT_xstream_self");
        return xstream(x);
    }
    static int self_rank() {
        int r = 0;
        detail::abt_check(ABT_xstream_self_rank(&r), "ABT_xstream_self_rank");
        return r;
    }

    /** Runs what its pools hold, then stops (not the primary stream, nor
     *  the caller's own). */
    void join() { detail::abt_check(ABT_xstream_join(m_xstream), "ABT_xstream_join"); }
    int  get_rank() const {
        int r = 0;
        detail::abt_check(ABT_xstream_get_rank(m_xstream, &r), "ABT_xstream_get_rank");
        return r;
    }
    bool is_primary() const {
        ABT_bool b = ABT_FALSE;
        detail::abt_check(ABT_xstream_is_primary(m_xstream, &b), "ABT_xstream_is_primary");
        return b == ABT_TRUE;
    }
    /** The pools it serves, in order (all of them for max_pools < 0). */
    std::vector<pool> get_main_pools(int max_pools = -1) const {
        int                   n = max_pools < 0 ? 64 : max_pools;
        std::vector<ABT_pool> handles(static_cast<std::size_t>(n), ABT_POOL_NULL);
        detail::abt_check(ABT_xstream_get_main_pools(m_xstream, n, handles.data()), "ABT_xstream_get_main_pools");
        std::vector<pool> out;
        for(ABT_pool h : handles)
            if(h != ABT_POOL_NULL) out.push_back(pool(h));
        return out;
    }

    /** Runs f() as a user-level thread / a tasklet on its first pool. */
    template <typename F> managed<thread> make_thread(F&& f) const { return first_pool().make_thread(std::forward<F>(f)); }
    template <typename F> void make_thread(F&& f, anonymous a) const { first_pool().make_thread(std::forward<F>(f), a); }
    template <typename F> managed<task> make_task(F&& f) const { return first_pool().make_task(std::forward<F>(f)); }
    template <typename F> void make_task(F&& f, anonymous a) const { first_pool().make_task(std::forward<F>(f), a); }

    native_handle_type native_handle() const noexcept { return m_xstream; }
    bool is_null() const noexcept { return m_xstream == ABT_XSTREAM_NULL; }
    explicit operator bool() const noexcept { return !is_null(); }
    bool operator==(const xstream& other) const noexcept { return m_xstream == other.m_xstream; }
    bool operator!=(const xstream& other) const noexcept { return m_xstream != other.m_xstream; }
};

/* ------------------------------------------------------------------------ */
/* engine                                                                    */
/* ------------------------------------------------------------------------ */

class engine {
    friend class endpoint;
    friend class remote_procedure;
    friend class request;
    template <typename T> friend class provider;

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

    /** Runs f() when the engine finalizes (newest first), while it can
     *  still communicate; `owner` tags it for pop_finalize_callback. */
    template <typename F> void push_finalize_callback(F&& f) { push_finalize_callback(nullptr, std::forward<F>(f)); }
    template <typename F> void push_finalize_callback(const void* owner, F&& f) {
        push_callback(owner, std::function<void()>(std::forward<F>(f)));
    }
    /** Removes the newest callback of `owner` and gives it back (empty if
     *  there is none, or the engine finalized). */
    std::function<void()> pop_finalize_callback(const void* owner = nullptr) { return pop_callback(owner); }
    /** Pre-finalize callbacks: ours run with the finalize callbacks (one
     *  list, newest first), while the engine can still communicate. */
    template <typename F> void push_prefinalize_callback(F&& f) { push_finalize_callback(nullptr, std::forward<F>(f)); }
    template <typename F> void push_prefinalize_callback(const void* owner, F&& f) {
        push_finalize_callback(owner, std::forward<F>(f));
    }
    std::function<void()> pop_prefinalize_callback(const void* owner = nullptr) { return pop_callback(owner); }

    /** A callback run on the handler pool some time after each start()
     *  (margo's timers). */
    timed_callback create_timed_callback(std::function<void()> f) const;

    /** An object of the engine's runtime layout with its name and index
     *  (what pools()[...] gives: usable as the object itself). */
    template <typename T> struct named_object_proxy : public T {
        named_object_proxy(T object, std::string name, unsigned index)
        : T(std::move(object))
        , m_name(std::move(name))
        , m_index(index) {}
        const std::string& name() const { return m_name; }
        const unsigned&    index() const { return m_index; }

      private:
        std::string m_name;
        unsigned    m_index;
    };

    /** The engine's pools (pools()): by name, index or handle, their
     *  number, and removal (margo_find_pool_by_*, margo_remove_pool_by_*);
     *  a pool that is not there throws margo_exception (HG_NOENTRY). */
    template <typename T> struct list_proxy;

    list_proxy<pool> pools() const;

    /** The engine's execution streams, as pools() gives its pools. */
    list_proxy<xstream> xstreams() const;

    /** Installs l for this engine's messages (ours: for every engine, as
     *  margo_set_logger); nullptr: back to stderr. */
    void set_logger(logger* l) {
        margo_logger ml = logger::to_margo(l);
        if(margo_set_logger(checked_mid("set_logger"), l ? &ml : nullptr) != 0)
            throw exception("thallium: cannot set the logger");
    }
    void set_log_level(logger::level l) {
        if(margo_set_log_level(checked_mid("set_log_level"), static_cast<margo_log_level>(l)) != 0)
            throw exception("thallium: cannot set the log level");
    }

    /** A copy of the newest finalize callback of owner (empty if none). */
    std::function<void()> top_finalize_callback(const void* owner = nullptr) const {
        margo_finalize_callback_t cb    = nullptr;
        void*                     uargs = nullptr;
        if(!margo_provider_top_finalize_callback(checked_mid("top_finalize_callback"), owner, &cb, &uargs) || !cb)
            return {};
        if(cb == &engine::run_callback) return *static_cast<std::function<void()>*>(uargs);
        /* Pushed through the C API. */
        return [cb, uargs]() { cb(uargs); };
    }
    std::function<void()> top_prefinalize_callback(const void* owner = nullptr) const {
        return top_finalize_callback(owner);
    }

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

    /**
     * Registers an RPC served by this engine (and callable from it): fun
     * takes (const thallium::request&, Args...) and is called with the
     * decoded arguments on the given pool (null pool: the handler pool),
     * for requests addressed to provider_id.
     */
    template <typename F>
    remote_procedure define(const std::string& name, F&& fun,
                            std::uint16_t provider_id = 0,
                            const pool&   p           = pool());

    /** Registers an RPC this engine only calls (no handler). */
    remote_procedure define(const std::string& name);

    /**
     * Exposes memory (pointer, size) segments, in order, as one bulk handle
     * others may transfer from (bulk_mode::read_only), to (write_only) or
     * both (read_write). The memory must stay valid until the last copy of
     * the returned bulk is gone.
     */
    bulk expose(const std::vector<std::pair<void*, std::size_t>>& segments, bulk_mode mode) const;

    /** The same for count segments given as two arrays. */
    bulk expose(unsigned count, void** ptrs, std::size_t* sizes, bulk_mode mode) const;

    /**
     * A bulk object sharing the hg_bulk_t blk (it takes its own reference:
     * the caller still frees blk). is_local: blk was made by this process.
     */
    bulk wrap(hg_bulk_t blk, bool is_local) const;

    /** JSON configuration of the margo instance. */
    std::string get_config() const {
        char* cfg = margo_get_config(checked_mid("get_config"));
        if(!cfg) return std::string();
        std::string result(cfg);
        std::free(cfg);
        return result;
    }

  private:
    static void run_callback(void* arg) {
        std::unique_ptr<std::function<void()>> f(static_cast<std::function<void()>*>(arg));
        detail::run_reporting("a finalize callback", *f);
    }
    void push_callback(const void* owner, std::function<void()> f) {
        margo_instance_id mid = checked_mid("push_finalize_callback");
        auto*             fn  = new std::function<void()>(std::move(f));
        std::lock_guard<std::mutex> guard(m_state->callbacks_lock);
        m_state->callbacks.emplace_back(owner, fn);
        margo_provider_push_finalize_callback(mid, owner, &engine::run_callback, fn);
    }
    std::function<void()> pop_callback(const void* owner) {
        margo_instance_id           mid = checked_mid("pop_finalize_callback");
        std::lock_guard<std::mutex> guard(m_state->callbacks_lock);
        auto&                       list = m_state->callbacks;
        auto it = std::find_if(list.rbegin(), list.rend(), [owner](const auto& e) { return e.first == owner; });
        /* Margo hands nothing back once the instance finalized: the
         * callbacks ran and freed themselves. */
        if(it == list.rend() || !margo_provider_pop_finalize_callback(mid, owner)) return {};
        std::unique_ptr<std::function<void()>> fn(static_cast<std::function<void()>*>(it->second));
        list.erase(std::next(it).base());
        return std::move(*fn);
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
    friend class request;

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
    std::uint16_t get_provider_id() const noexcept { return m_provider_id; }

    /** Asks the remote provider for its identity (what its provider<T> or
     *  margo_provider_register_identity named it); throws
     *  margo_exception (HG_NOENTRY: it has none). */
    std::string get_identity() const {
        margo_instance_id mid = get_engine().get_margo_instance();
        std::vector<char> buffer(64);
        for(;;) {
            std::size_t size = buffer.size();
            hg_return_t ret  = margo_provider_get_identity(mid, get_addr(), m_provider_id, buffer.data(), &size);
            if(ret == HG_NOMEM && size > buffer.size()) {
                buffer.resize(size);
                continue;
            }
            MARGO_ASSERT(ret, margo_provider_get_identity);
            return std::string(buffer.data());
        }
    }
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

/* ------------------------------------------------------------------------ */
/* Serialization                                                             */
/* ------------------------------------------------------------------------ */
/*
 * Arguments and responses are packed into one byte buffer, which travels
 * through margo as a single field (a u64 length, then the bytes, written by
 * detail::proc_byte_buffer with hg_proc_uint64_t and hg_proc_raw). Inside
 * the buffer: booleans one byte (0 or 1), other integers and enums their
 * size in bytes little-endian, float/double their IEEE bits little-endian,
 * strings and containers a u64 little-endian count then their elements, pairs
 * and tuples their members in order, user types what their serialize (or
 * save/load) member writes. Decoding checks every length against the bytes
 * left and throws thallium::exception on anything malformed. A bulk is a
 * u32 index into bulk handles that follow the bytes in the margo field; the
 * length word then has its top bit set, then come a u64 count and the
 * handles as hg_proc_hg_bulk_t writes them (a message without bulks is
 * encoded as if bulks did not exist).
 */

namespace detail {

template <typename T, typename = void> struct has_serialize_member : std::false_type {};
template <typename T, typename = void> struct has_save_load_members : std::false_type {};

template <typename T> struct is_std_string : std::false_type {};
template <typename C, typename Tr, typename A>
struct is_std_string<std::basic_string<C, Tr, A>> : std::true_type {};

/* Containers written as a count then their elements. */
template <typename T> struct is_sequence : std::false_type {};
template <typename T, typename A> struct is_sequence<std::vector<T, A>> : std::true_type {};
template <typename T, typename A> struct is_sequence<std::list<T, A>> : std::true_type {};
template <typename T, typename A> struct is_sequence<std::deque<T, A>> : std::true_type {};

template <typename T> struct is_assoc : std::false_type {};
template <typename K, typename V, typename C, typename A>
struct is_assoc<std::map<K, V, C, A>> : std::true_type {};
template <typename K, typename V, typename H, typename E, typename A>
struct is_assoc<std::unordered_map<K, V, H, E, A>> : std::true_type {};
template <typename K, typename C, typename A> struct is_assoc<std::set<K, C, A>> : std::true_type {};
template <typename K, typename H, typename E, typename A>
struct is_assoc<std::unordered_set<K, H, E, A>> : std::true_type {};
template <typename K, typename V, typename C, typename A>
struct is_assoc<std::multimap<K, V, C, A>> : std::true_type {};
template <typename K, typename C, typename A> struct is_assoc<std::multiset<K, C, A>> : std::true_type {};
template <typename K, typename V, typename H, typename E, typename A>
struct is_assoc<std::unordered_multimap<K, V, H, E, A>> : std::true_type {};
template <typename K, typename H, typename E, typename A>
struct is_assoc<std::unordered_multiset<K, H, E, A>> : std::true_type {};

/* Written as a count then the elements, like a sequence, but with no
 * size() or push_back. */
template <typename T> struct is_forward_list : std::false_type {};
template <typename T, typename A> struct is_forward_list<std::forward_list<T, A>> : std::true_type {};
template <typename T> struct is_complex : std::false_type {};
template <typename T> struct is_complex<std::complex<T>> : std::true_type {};

template <typename T> struct is_pair : std::false_type {};
template <typename A, typename B> struct is_pair<std::pair<A, B>> : std::true_type {};
template <typename T> struct is_tuple : std::false_type {};
template <typename... T> struct is_tuple<std::tuple<T...>> : std::true_type {};
template <typename T> struct is_array : std::false_type {};
template <typename T, std::size_t N> struct is_array<std::array<T, N>> : std::true_type {};

template <typename T> struct always_false : std::false_type {};

/* The decayed types of a tuple's elements after the first. */
template <typename Tuple> struct tuple_tail;
template <typename H, typename... R> struct tuple_tail<std::tuple<H, R...>> {
    using decayed = std::tuple<std::decay_t<R>...>;
    using types   = std::tuple<R...>;
};

/* The bulk handles that came with a decoded input or response (see "Bulk
 * transfers"), one reference each, dropped with the table; a bulk decoded
 * from the bytes takes a reference of its own. */
struct bulk_table {
    std::vector<hg_bulk_t> handles;

    bulk_table() = default;
    bulk_table(const bulk_table&)            = delete;
    bulk_table& operator=(const bulk_table&) = delete;
    ~bulk_table() {
        for(hg_bulk_t h : handles)
            if(h != HG_BULK_NULL) margo_bulk_free(h);
    }
};

/* What a null bulk writes in place of a table index. */
constexpr std::uint32_t null_bulk_index = 0xFFFFFFFFu;

} // namespace detail

/**
 * Writes values into a byte buffer. User types see it in their
 * `template<class A> void serialize(A& ar)` member as `ar & x` (or
 * `ar << x`), and in a `save(A& ar) const` member.
 */
class output_archive {
    friend class bulk;

    std::vector<char>& m_buf;
    /* Where the handles of the bulks written go (null: bulks refused). */
    std::deque<hg_bulk_t>* m_bulks = nullptr;

  public:
    /* Appends v little-endian (the serializers' primitive). */
    template <typename U> void put_le(U v) {
        char bytes[sizeof(U)];
        for(std::size_t i = 0; i < sizeof(U); ++i)
            bytes[i] = static_cast<char>((static_cast<std::uint64_t>(v) >> (8 * i)) & 0xFF);
        m_buf.insert(m_buf.end(), bytes, bytes + sizeof(U));
    }

    explicit output_archive(std::vector<char>& buf, std::deque<hg_bulk_t>* bulks = nullptr) noexcept
    : m_buf(buf)
    , m_bulks(bulks) {}

    static constexpr bool is_input  = false;
    static constexpr bool is_output = true;

    /** Appends raw bytes. */
    void write(const void* data, std::size_t size) {
        const char* p = static_cast<const char*>(data);
        m_buf.insert(m_buf.end(), p, p + size);
    }

    template <typename T> void save(const T& v);

    /** The serialization context: none here (see
     *  output_archive_with_context). */
    std::tuple<>& get_context() {
        static std::tuple<> none;
        return none;
    }

    /** Reserves size bytes at the end and returns them to be filled in
     *  place (valid until the next write); restore_ptr then closes it. */
    void* save_ptr(std::size_t size) {
        std::size_t at = m_buf.size();
        m_buf.resize(at + size);
        return m_buf.data() + at;
    }
    void restore_ptr(void*, std::size_t) noexcept {}

    template <typename T> output_archive& operator&(const T& v) {
        save(v);
        return *this;
    }
    template <typename T> output_archive& operator<<(const T& v) {
        save(v);
        return *this;
    }
    template <typename T> output_archive& operator()(const T& v) {
        save(v);
        return *this;
    }

  private:
    /* A bulk: a u32 index into the handles sent after the bytes. */
    void save_bulk_handle(hg_bulk_t h) {
        if(h == HG_BULK_NULL) {
            put_le<std::uint32_t>(detail::null_bulk_index);
            return;
        }
        if(m_bulks == nullptr)
            throw exception("thallium: a bulk can only be serialized into the arguments or the response of an RPC");
        if(m_bulks->size() >= detail::null_bulk_index)
            throw exception("thallium: too many bulks in one RPC message");
        put_le<std::uint32_t>(static_cast<std::uint32_t>(m_bulks->size()));
        m_bulks->push_back(h);
    }
};

/**
 * Reads values back from a byte buffer; any malformed or short input throws
 * thallium::exception. User types see it in `serialize(A& ar)` (`ar & x`)
 * and in a `load(A& ar)` member.
 */
class input_archive {
    friend class bulk;

    const char*               m_data;
    std::size_t               m_size;
    std::size_t               m_pos   = 0;
    const detail::bulk_table* m_bulks = nullptr;

  public:
    /* Reads a little-endian U (the serializers' primitive). */
    template <typename U> U get_le() {
        unsigned char bytes[sizeof(U)];
        read(bytes, sizeof(U));
        std::uint64_t v = 0;
        for(std::size_t i = 0; i < sizeof(U); ++i)
            v |= static_cast<std::uint64_t>(bytes[i]) << (8 * i);
        return static_cast<U>(v);
    }

    input_archive(const char* data, std::size_t size, const detail::bulk_table* bulks = nullptr) noexcept
    : m_data(data)
    , m_size(size)
    , m_bulks(bulks) {}

    static constexpr bool is_input  = true;
    static constexpr bool is_output = false;

    std::size_t remaining() const noexcept { return m_size - m_pos; }

    /** Copies the next size bytes out, or throws if there are fewer. */
    void read(void* out, std::size_t size) {
        if(size > remaining())
            throw exception("thallium: cannot decode: ", size, " byte(s) needed, ",
                            remaining(), " left");
        if(size) std::memcpy(out, m_data + m_pos, size);
        m_pos += size;
    }

    /** Reads a u64 element count and checks it against the bytes left
     * (every element takes at least one byte on the wire). */
    std::size_t read_count() {
        std::uint64_t n = get_le<std::uint64_t>();
        if(n > remaining())
            throw exception("thallium: cannot decode: a count of ", n, " with only ",
                            remaining(), " byte(s) left");
        return static_cast<std::size_t>(n);
    }

    template <typename T> void load(T& v);

    /** The serialization context: none here (see input_archive_with_context). */
    std::tuple<>& get_context() {
        static std::tuple<> none;
        return none;
    }

    /** The next size bytes, read in place (read-only; throws if fewer
     *  are left) and skipped; restore_ptr then closes it. */
    void* save_ptr(std::size_t size) {
        if(size > remaining())
            throw exception("thallium: cannot decode: ", size, " byte(s) needed, ", remaining(), " left");
        void* p = const_cast<char*>(m_data + m_pos);
        m_pos += size;
        return p;
    }
    void restore_ptr(void*, std::size_t) noexcept {}

    template <typename T> input_archive& operator&(T& v) {
        load(v);
        return *this;
    }
    /* Upstream accepts a temporary on the right (an expression written for
     * both directions): it is read into and dropped. */
    template <typename T, std::enable_if_t<!std::is_lvalue_reference<T>::value, bool> = true>
    input_archive& operator&(T&& v) {
        load(v);
        return *this;
    }
    template <typename T> input_archive& operator>>(T& v) {
        load(v);
        return *this;
    }
    template <typename T> input_archive& operator()(T& v) {
        load(v);
        return *this;
    }

  private:
    /* A bulk's handle, still owned by the table (HG_BULK_NULL: a null bulk). */
    hg_bulk_t load_bulk_handle() {
        std::uint32_t i = get_le<std::uint32_t>();
        if(i == detail::null_bulk_index) return HG_BULK_NULL;
        if(m_bulks == nullptr || i >= m_bulks->handles.size())
            throw exception("thallium: cannot decode: bulk #", i, " is not among the ",
                            m_bulks ? m_bulks->handles.size() : 0, " bulk handle(s) received");
        return m_bulks->handles[i];
    }
};

namespace detail {

/* serialize(ar, x), save(ar, x) and load(ar, x) written as free functions
 * beside the user's type, found by argument-dependent lookup. Called from
 * here, where no member of an archive hides them. */
template <typename T, typename = void> struct has_serialize_free : std::false_type {};
template <typename T>
struct has_serialize_free<T, std::void_t<decltype(serialize(std::declval<output_archive&>(), std::declval<T&>()))>>
: std::true_type {};
template <typename T, typename = void> struct has_save_load_free : std::false_type {};
template <typename T>
struct has_save_load_free<T, std::void_t<decltype(save(std::declval<output_archive&>(), std::declval<const T&>())),
                                         decltype(load(std::declval<input_archive&>(), std::declval<T&>()))>>
: std::true_type {};
template <typename A, typename T> void adl_serialize(A& ar, T& v) { serialize(ar, v); }
template <typename A, typename T> void adl_save(A& ar, const T& v) { save(ar, v); }
template <typename A, typename T> void adl_load(A& ar, T& v) { load(ar, v); }

template <typename T>
struct has_serialize_member<T, std::void_t<decltype(std::declval<T&>().serialize(
                                   std::declval<output_archive&>()))>> : std::true_type {};
template <typename T>
struct has_save_load_members<
    T, std::void_t<decltype(std::declval<const T&>().save(std::declval<output_archive&>())),
                   decltype(std::declval<T&>().load(std::declval<input_archive&>()))>>
: std::true_type {};

} // namespace detail

namespace detail {

/* The serializers, for any archive A (output_archive, input_archive, or one
 * of theirs carrying a context): values reach users' serialize/save/load
 * through A, so that A's get_context() is theirs to call. */
template <typename A, typename T> void save_any(A& ar, const T& v) {
    if constexpr(std::is_same<T, bool>::value) {
        ar.template put_le<std::uint8_t>(v ? 1 : 0);
    } else if constexpr(std::is_enum<T>::value) {
        save_any(ar, static_cast<std::underlying_type_t<T>>(v));
    } else if constexpr(std::is_integral<T>::value) {
        ar.template put_le<std::make_unsigned_t<T>>(static_cast<std::make_unsigned_t<T>>(v));
    } else if constexpr(std::is_same<T, float>::value) {
        std::uint32_t bits;
        std::memcpy(&bits, &v, sizeof bits);
        ar.template put_le<std::uint32_t>(bits);
    } else if constexpr(std::is_same<T, double>::value) {
        std::uint64_t bits;
        std::memcpy(&bits, &v, sizeof bits);
        ar.template put_le<std::uint64_t>(bits);
    } else if constexpr(is_std_string<T>::value) {
        ar.template put_le<std::uint64_t>(v.size());
        ar.write(v.data(), v.size() * sizeof(typename T::value_type));
    } else if constexpr(is_sequence<T>::value || is_assoc<T>::value) {
        ar.template put_le<std::uint64_t>(v.size());
        for(const auto& e : v) save_any(ar, e);
    } else if constexpr(is_forward_list<T>::value) {
        ar.template put_le<std::uint64_t>(static_cast<std::uint64_t>(std::distance(v.begin(), v.end())));
        for(const auto& e : v) save_any(ar, e);
    } else if constexpr(is_complex<T>::value) {
        save_any(ar, v.real());
        save_any(ar, v.imag());
    } else if constexpr(is_array<T>::value) {
        for(const auto& e : v) save_any(ar, e);
    } else if constexpr(is_pair<T>::value) {
        save_any(ar, v.first);
        save_any(ar, v.second);
    } else if constexpr(is_tuple<T>::value) {
        std::apply([&](const auto&... e) { (save_any(ar, e), ...); }, v);
    } else if constexpr(has_save_load_members<T>::value) {
        v.save(ar);
    } else if constexpr(has_serialize_member<T>::value) {
        /* serialize is one non-const member for both directions. */
        const_cast<T&>(v).serialize(ar);
    } else if constexpr(has_save_load_free<T>::value) {
        adl_save(ar, v);
    } else if constexpr(has_serialize_free<T>::value) {
        adl_serialize(ar, const_cast<T&>(v));
    } else {
        static_assert(always_false<T>::value,
                      "thallium: no serialization for this type (give it a "
                      "template<class A> void serialize(A&) member, or a free "
                      "serialize(A&, T&) beside it)");
    }
}

template <typename A, typename T> void load_any(A& ar, T& v) {
    if constexpr(std::is_same<T, bool>::value) {
        std::uint8_t b = ar.template get_le<std::uint8_t>();
        if(b > 1) throw exception("thallium: cannot decode: ", unsigned(b), " is not a bool");
        v = (b == 1);
    } else if constexpr(std::is_enum<T>::value) {
        std::underlying_type_t<T> u{};
        load_any(ar, u);
        v = static_cast<T>(u);
    } else if constexpr(std::is_integral<T>::value) {
        v = static_cast<T>(ar.template get_le<std::make_unsigned_t<T>>());
    } else if constexpr(std::is_same<T, float>::value) {
        std::uint32_t bits = ar.template get_le<std::uint32_t>();
        std::memcpy(&v, &bits, sizeof v);
    } else if constexpr(std::is_same<T, double>::value) {
        std::uint64_t bits = ar.template get_le<std::uint64_t>();
        std::memcpy(&v, &bits, sizeof v);
    } else if constexpr(is_std_string<T>::value) {
        std::uint64_t n     = ar.template get_le<std::uint64_t>();
        using C             = typename T::value_type;
        if(n > ar.remaining() / sizeof(C))
            throw exception("thallium: cannot decode: a string of ", n, " with only ",
                            ar.remaining(), " byte(s) left");
        v.resize(static_cast<std::size_t>(n));
        ar.read(&v[0], static_cast<std::size_t>(n) * sizeof(C));
    } else if constexpr(is_sequence<T>::value) {
        std::size_t n = ar.read_count();
        v.clear();
        for(std::size_t i = 0; i < n; ++i) {
            typename T::value_type e{};
            load_any(ar, e);
            v.push_back(std::move(e));
        }
    } else if constexpr(is_assoc<T>::value) {
        std::size_t n = ar.read_count();
        v.clear();
        for(std::size_t i = 0; i < n; ++i) {
            /* value_type of a map has a const key: decode a plain pair. */
            using E = std::remove_const_t<typename T::key_type>;
            if constexpr(std::is_same<typename T::key_type, typename T::value_type>::value) {
                E e{};
                load_any(ar, e);
                v.insert(std::move(e));
            } else {
                std::pair<E, typename T::mapped_type> e{};
                load_any(ar, e);
                v.insert(std::move(e));
            }
        }
    } else if constexpr(is_forward_list<T>::value) {
        std::size_t n = ar.read_count();
        v.clear();
        auto last = v.before_begin();
        for(std::size_t i = 0; i < n; ++i) {
            typename T::value_type e{};
            load_any(ar, e);
            last = v.insert_after(last, std::move(e));
        }
    } else if constexpr(is_complex<T>::value) {
        typename T::value_type re{}, im{};
        load_any(ar, re);
        load_any(ar, im);
        v = T(re, im);
    } else if constexpr(is_array<T>::value) {
        for(auto& e : v) load_any(ar, e);
    } else if constexpr(is_pair<T>::value) {
        load_any(ar, v.first);
        load_any(ar, v.second);
    } else if constexpr(is_tuple<T>::value) {
        std::apply([&](auto&... e) { (load_any(ar, e), ...); }, v);
    } else if constexpr(has_save_load_members<T>::value) {
        v.load(ar);
    } else if constexpr(has_serialize_member<T>::value) {
        v.serialize(ar);
    } else if constexpr(has_save_load_free<T>::value) {
        adl_load(ar, v);
    } else if constexpr(has_serialize_free<T>::value) {
        adl_serialize(ar, v);
    } else {
        static_assert(always_false<T>::value,
                      "thallium: no serialization for this type (give it a "
                      "template<class A> void serialize(A&) member, or a free "
                      "serialize(A&, T&) beside it)");
    }
}

} // namespace detail

template <typename T> void output_archive::save(const T& v) { detail::save_any(*this, v); }
template <typename T> void input_archive::load(T& v) { detail::load_any(*this, v); }

/**
 * An output_archive carrying a serialization context (values given with
 * with_serialization_context(...)): users' serialize/save functions reach
 * them through ar.get_context(), a std::tuple of them.
 */
template <typename... Ctx> class output_archive_with_context : public output_archive {
    std::tuple<Ctx...>& m_context;

  public:
    output_archive_with_context(std::vector<char>& buf, std::deque<hg_bulk_t>* bulks, std::tuple<Ctx...>& context) noexcept
    : output_archive(buf, bulks)
    , m_context(context) {}

    std::tuple<Ctx...>& get_context() noexcept { return m_context; }

    template <typename T> void save(const T& v) { detail::save_any(*this, v); }
    template <typename T> output_archive_with_context& operator&(const T& v) {
        save(v);
        return *this;
    }
    template <typename T> output_archive_with_context& operator<<(const T& v) {
        save(v);
        return *this;
    }
    template <typename T> output_archive_with_context& operator()(const T& v) {
        save(v);
        return *this;
    }
};

/** The input side of output_archive_with_context. */
template <typename... Ctx> class input_archive_with_context : public input_archive {
    std::tuple<Ctx...>& m_context;

  public:
    input_archive_with_context(const char* data, std::size_t size, const detail::bulk_table* bulks,
                               std::tuple<Ctx...>& context) noexcept
    : input_archive(data, size, bulks)
    , m_context(context) {}

    std::tuple<Ctx...>& get_context() noexcept { return m_context; }

    template <typename T> void load(T& v) { detail::load_any(*this, v); }
    template <typename T> input_archive_with_context& operator&(T& v) {
        load(v);
        return *this;
    }
    template <typename T, std::enable_if_t<!std::is_lvalue_reference<T>::value, bool> = true>
    input_archive_with_context& operator&(T&& v) {
        load(v);
        return *this;
    }
    template <typename T> input_archive_with_context& operator>>(T& v) {
        load(v);
        return *this;
    }
    template <typename T> input_archive_with_context& operator()(T& v) {
        load(v);
        return *this;
    }
};

namespace detail {
/* Values packed with a context (arguments or a response after its status
 * byte). */
template <typename... Ctx, typename... T>
void pack_with_context(std::vector<char>& bytes, std::deque<hg_bulk_t>& bulks, std::tuple<Ctx...>& ctx, const T&... values) {
    output_archive_with_context<Ctx...> ar(bytes, &bulks, ctx);
    (ar.save(values), ...);
}
} // namespace detail

namespace detail {

/* The single margo field of every thallium RPC input and output: the
 * bytes, and the handles of the bulks among the values. Encoding, those
 * are borrowed from the bulks being sent; decoding, hg_proc_hg_bulk_t
 * makes them, and they belong to this buffer (the free op drops them)
 * until taken. A deque: the proc keeps the address of each handle it
 * decodes (to undo a failed decode), so adding one must not move the
 * others. */
struct byte_buffer {
    std::vector<char>     bytes;
    std::deque<hg_bulk_t> bulks;
};

/* Largest buffer accepted (margo's own message limit is 256 MiB). */
constexpr std::uint64_t max_buffer_size = std::uint64_t(256) << 20;

/* Set in the length word when bulk handles follow the bytes (so that a
 * message without bulks is encoded as before they existed). */
constexpr std::uint64_t buffer_has_bulks = std::uint64_t(1) << 63;

/* Proc of byte_buffer, called by margo (never lets an exception out).
 * Decoding grows the buffer in steps as the bytes actually arrive, so a
 * hostile length never makes it reserve more than what was sent; each
 * bulk handle takes at least 8 bytes, so a hostile count is bounded by the
 * bytes sent too. */
inline hg_return_t proc_byte_buffer(hg_proc_t proc, void* data) noexcept {
    if(data == nullptr) return HG_INVALID_ARG;
    byte_buffer* buf = static_cast<byte_buffer*>(data);
    try {
        switch(hg_proc_get_op(proc)) {
        case HG_ENCODE: {
            std::uint64_t n   = buf->bytes.size();
            if(!buf->bulks.empty()) n |= buffer_has_bulks;
            hg_return_t ret = hg_proc_uint64_t(proc, &n);
            if(ret != HG_SUCCESS) return ret;
            ret = hg_proc_raw(proc, buf->bytes.data(), buf->bytes.size());
            if(ret != HG_SUCCESS || buf->bulks.empty()) return ret;
            std::uint64_t count = buf->bulks.size();
            ret                 = hg_proc_uint64_t(proc, &count);
            for(hg_bulk_t& h : buf->bulks) {
                if(ret != HG_SUCCESS) break;
                ret = hg_proc_hg_bulk_t(proc, &h);
            }
            return ret;
        }
        case HG_DECODE: {
            std::uint64_t n   = 0;
            hg_return_t   ret = hg_proc_uint64_t(proc, &n);
            if(ret != HG_SUCCESS) return ret;
            const bool with_bulks = (n & buffer_has_bulks) != 0;
            n &= ~buffer_has_bulks;
            if(n > max_buffer_size) return HG_PROTOCOL_ERROR;
            buf->bytes.clear();
            std::uint64_t done = 0;
            while(done < n) {
                std::uint64_t step = std::min<std::uint64_t>(n - done, std::uint64_t(1) << 16);
                buf->bytes.resize(static_cast<std::size_t>(done + step));
                ret = hg_proc_raw(proc, buf->bytes.data() + done, step);
                if(ret != HG_SUCCESS) {
                    buf->bytes.clear();
                    return ret;
                }
                done += step;
            }
            if(!with_bulks) return HG_SUCCESS;
            std::uint64_t count = 0;
            ret                 = hg_proc_uint64_t(proc, &count);
            if(ret != HG_SUCCESS) return ret;
            if(count == 0) return HG_PROTOCOL_ERROR;
            /* A failure leaves the handles decoded so far in place: the
             * proc frees them (and nulls them) once this returns. */
            buf->bulks.clear();
            for(std::uint64_t i = 0; i < count; ++i) {
                buf->bulks.push_back(HG_BULK_NULL);
                ret = hg_proc_hg_bulk_t(proc, &buf->bulks.back());
                if(ret != HG_SUCCESS) return ret;
            }
            return HG_SUCCESS;
        }
        case HG_FREE: {
            std::vector<char>().swap(buf->bytes);
            hg_return_t ret = HG_SUCCESS;
            for(hg_bulk_t& h : buf->bulks) {
                if(h == HG_BULK_NULL) continue;
                hg_return_t r = hg_proc_hg_bulk_t(proc, &h);
                if(ret == HG_SUCCESS) ret = r;
            }
            buf->bulks.clear();
            return ret;
        }
        }
        return HG_INVALID_ARG;
    } catch(const std::bad_alloc&) {
        return HG_NOMEM;
    } catch(...) {
        return HG_OTHER_ERROR;
    }
}

/* First byte of every response buffer. */
constexpr char response_ok    = 0;
constexpr char response_error = 1;

/* The arguments of a call (the handles of bulks among them are borrowed:
 * the buffer must not outlive the values). */
template <typename... T> byte_buffer pack_values(const T&... values) {
    byte_buffer    out;
    output_archive ar(out.bytes, &out.bulks);
    (ar.save(values), ...);
    return out;
}

/* A response: its status byte, then the values. */
template <typename... T> byte_buffer pack_response(char status, const T&... values) {
    byte_buffer out;
    out.bytes.push_back(status);
    output_archive ar(out.bytes, &out.bulks);
    (ar.save(values), ...);
    return out;
}

/* Takes the bulk handles a decode left in buf (none: null). */
inline std::unique_ptr<bulk_table> take_bulks(byte_buffer& buf) {
    if(buf.bulks.empty()) return nullptr;
    auto table = std::make_unique<bulk_table>();
    table->handles.reserve(buf.bulks.size());
    for(hg_bulk_t h : buf.bulks) table->handles.push_back(h);
    buf.bulks.clear();
    return table;
}

/* Type of the pieces of a handler: (const request&, Args...) -> R. */
template <typename F> struct callable_traits : callable_traits<decltype(&F::operator())> {};
template <typename R, typename... A> struct callable_traits<R (*)(A...)> {
    using result = R;
    using args   = std::tuple<A...>;
};
template <typename R, typename... A> struct callable_traits<R(A...)> : callable_traits<R (*)(A...)> {};
template <typename C, typename R, typename... A>
struct callable_traits<R (C::*)(A...)> : callable_traits<R (*)(A...)> {};
template <typename C, typename R, typename... A>
struct callable_traits<R (C::*)(A...) const> : callable_traits<R (*)(A...)> {};
template <typename C, typename R, typename... A>
struct callable_traits<R (C::*)(A...) noexcept> : callable_traits<R (*)(A...)> {};
template <typename C, typename R, typename... A>
struct callable_traits<R (C::*)(A...) const noexcept> : callable_traits<R (*)(A...)> {};
template <typename R, typename... A>
struct callable_traits<R (*)(A...) noexcept> : callable_traits<R (*)(A...)> {};

/* Whether a parameter list starts with const request&. */
template <typename Args> struct first_is_request : std::false_type {};
template <typename H, typename... R>
struct first_is_request<std::tuple<H, R...>> : std::is_same<H, const request&> {};

/* What margo's registered data points at for each defined RPC. */
struct rpc_entry {
    std::function<void(const request&, const std::vector<char>&, const bulk_table*)> invoke;
    std::weak_ptr<engine_state>                                                      state;
    std::string                                                                      name;
};

inline void free_rpc_entry(void* p) { delete static_cast<rpc_entry*>(p); }

inline hg_return_t rpc_trampoline(hg_handle_t handle) noexcept;

inline std::string rpc_error_text(const std::string& name, const char* what, hg_return_t ret) {
    return std::string(translate_margo_error_code(ret)) + ": " + what + " of RPC \"" + name + "\"";
}

} // namespace detail

/* ------------------------------------------------------------------------ */
/* packed_data                                                               */
/* ------------------------------------------------------------------------ */

/**
 * The response of an RPC: convert it to the type(s) the handler responded
 * with, by as<T>() / as<T1, T2...>() (a std::tuple) or an implicit
 * conversion. A packed_data of an RPC whose response is disabled is empty,
 * and converting it throws.
 */
template <typename... CtxArg> class packed_data {
    template <typename... Other> friend class packed_data;

    std::vector<char>                         m_bytes;
    std::string                               m_name;
    bool                                      m_has_data = false;
    std::shared_ptr<const detail::bulk_table> m_bulks;
    /* The serialization context values are decoded with (mutable: a
     * deserializer may use it as it likes). */
    mutable std::tuple<CtxArg...> m_context;

    template <typename T, typename Ar> T decode_one(Ar& ar) const {
        T v{};
        ar.load(v);
        return v;
    }

    packed_data(std::vector<char> bytes, std::string name, bool has_data, std::shared_ptr<const detail::bulk_table> bulks,
                std::tuple<CtxArg...> context)
    : m_bytes(std::move(bytes))
    , m_name(std::move(name))
    , m_has_data(has_data)
    , m_bulks(std::move(bulks))
    , m_context(std::move(context)) {}

    /* Runs f on an archive over the bytes (with the context, if any). */
    template <typename F> auto with_archive(F&& f) const {
        if constexpr(sizeof...(CtxArg) == 0) {
            input_archive ar(m_bytes.data(), m_bytes.size(), m_bulks.get());
            return f(ar);
        } else {
            input_archive_with_context<CtxArg...> ar(m_bytes.data(), m_bytes.size(), m_bulks.get(), m_context);
            return f(ar);
        }
    }

  public:
    packed_data() = default;
    /* The empty result of an RPC whose response is disabled. */
    explicit packed_data(std::string name)
    : m_name(std::move(name)) {}
    packed_data(std::vector<char> bytes, std::string name,
                std::shared_ptr<const detail::bulk_table> bulks = nullptr)
    : m_bytes(std::move(bytes))
    , m_name(std::move(name))
    , m_has_data(true)
    , m_bulks(std::move(bulks)) {}

    /** False for the empty result of an RPC whose response is disabled. */
    bool has_data() const noexcept { return m_has_data; }

    /** The same data, decoded with a serialization context (the values'
     *  serialize/load functions read it with ar.get_context()). */
    template <typename... New> packed_data<std::decay_t<New>...> with_serialization_context(New&&... context) const {
        return packed_data<std::decay_t<New>...>(m_bytes, m_name, m_has_data, m_bulks,
                                                 std::tuple<std::decay_t<New>...>(std::forward<New>(context)...));
    }

    template <typename T1, typename... Tn> auto as() const {
        if(!m_has_data)
            throw exception("thallium: RPC \"", m_name, "\" has no response to convert");
        try {
            return with_archive([this](auto& ar) {
                if constexpr(sizeof...(Tn) == 0) {
                    return this->template decode_one<T1>(ar);
                } else {
                    /* Braced init: members decode left to right. */
                    return std::tuple<T1, Tn...>{this->template decode_one<T1>(ar), this->template decode_one<Tn>(ar)...};
                }
            });
        } catch(const exception& ex) {
            throw exception("thallium: the response of RPC \"", m_name,
                            "\" does not decode as the requested type(s): ", ex.what());
        }
    }

    template <typename... T> auto unpack() const { return as<T...>(); }

    /** Decodes the values into x..., in order (upstream's form). */
    template <typename... T, std::enable_if_t<(sizeof...(T) > 0), bool> = true> void unpack(T&... x) const {
        if(!m_has_data)
            throw exception("thallium: RPC \"", m_name, "\" has no response to convert");
        try {
            with_archive([&](auto& ar) {
                (ar.load(x), ...);
                return 0;
            });
        } catch(const exception& ex) {
            throw exception("thallium: the response of RPC \"", m_name,
                            "\" does not decode as the requested type(s): ", ex.what());
        }
    }

    template <typename T> operator T() const { return as<T>(); }
};

/* ------------------------------------------------------------------------ */
/* Timeout                                                                   */
/* ------------------------------------------------------------------------ */

/** Thrown when a timed RPC gets no answer in time (error() is HG_TIMEOUT). */
class timeout : public margo_exception {
  public:
    explicit timeout(const std::string& what = "Request timed out")
    : margo_exception("margo_provider_forward_timed", __FILE__, __LINE__, HG_TIMEOUT, what) {}

    /** A timeout of the margo call named function. */
    timeout(const std::string& function, const std::string& what)
    : margo_exception(function, __FILE__, __LINE__, HG_TIMEOUT, what) {}
};

/* ------------------------------------------------------------------------ */
/* request                                                                   */
/* ------------------------------------------------------------------------ */

/**
 * A received RPC, given to its handler. Copies share the underlying handle
 * (margo_ref_incr); a request may be kept and responded to later, from any
 * thread. Respond once; with the RPC's response disabled respond does
 * nothing.
 */
class request {
    friend hg_return_t detail::rpc_trampoline(hg_handle_t handle) noexcept;
    template <typename... Ctx> friend class request_with_context;

    hg_handle_t                           m_handle = HG_HANDLE_NULL;
    std::shared_ptr<detail::engine_state> m_state;
    std::string                           m_name;
    /* The decoded input and its bulks, for get_input(); whether the
     * handler read it that way. */
    std::shared_ptr<const std::vector<char>>  m_input;
    std::shared_ptr<const detail::bulk_table> m_input_bulks;
    std::shared_ptr<std::atomic<bool>>        m_input_read;

    /* Adopts the caller's reference to handle. */
    request(hg_handle_t handle, std::shared_ptr<detail::engine_state> state, std::string name) noexcept
    : m_handle(handle)
    , m_state(std::move(state))
    , m_name(std::move(name)) {}

    void respond_buffer(detail::byte_buffer& out) const {
        if(m_handle == HG_HANDLE_NULL)
            throw exception("thallium: respond called on a null request");
        hg_return_t ret = margo_respond(m_handle, &out);
        if(ret != HG_SUCCESS)
            throw margo_exception("margo_respond", __FILE__, __LINE__, ret,
                                  detail::rpc_error_text(m_name, "margo_respond", ret));
    }

  public:
    request() noexcept = default;

    request(const request& other)
    : m_handle(other.m_handle)
    , m_state(other.m_state)
    , m_name(other.m_name)
    , m_input(other.m_input)
    , m_input_bulks(other.m_input_bulks)
    , m_input_read(other.m_input_read) {
        if(m_handle != HG_HANDLE_NULL) {
            hg_return_t ret = margo_ref_incr(m_handle);
            MARGO_ASSERT(ret, margo_ref_incr);
        }
    }

    request(request&& other) noexcept
    : m_handle(std::exchange(other.m_handle, HG_HANDLE_NULL))
    , m_state(std::move(other.m_state))
    , m_name(std::move(other.m_name))
    , m_input(std::move(other.m_input))
    , m_input_bulks(std::move(other.m_input_bulks))
    , m_input_read(std::move(other.m_input_read)) {}

    request& operator=(request other) noexcept {
        std::swap(m_handle, other.m_handle);
        std::swap(m_state, other.m_state);
        std::swap(m_name, other.m_name);
        std::swap(m_input, other.m_input);
        std::swap(m_input_bulks, other.m_input_bulks);
        std::swap(m_input_read, other.m_input_read);
        return *this;
    }

    /** The whole input, to decode again (as<T...>(), unpack(x...)): a
     *  handler may declare only the first arguments and read the rest
     *  from here. */
    packed_data<> get_input() const {
        if(!m_input) throw exception("thallium: get_input called on a request without input");
        if(m_input_read) m_input_read->store(true);
        return packed_data<>(*m_input, m_name, m_input_bulks);
    }

    ~request() {
        if(m_handle != HG_HANDLE_NULL) margo_destroy(m_handle);
    }

    bool is_null() const noexcept { return m_handle == HG_HANDLE_NULL; }

    /** Name under which the RPC was defined. */
    const std::string& get_name() const noexcept { return m_name; }

    /** Provider id the request was addressed to. */
    std::uint16_t get_provider_id() const {
        const hg_info* info = margo_get_info(m_handle);
        if(!info) throw exception("thallium: get_provider_id called on a null request");
        return static_cast<std::uint16_t>(info->id & 0xFFFF);
    }

    /** Sends the values back to the caller (packed as one response). */
    template <typename... T> void respond(const T&... values) const {
        detail::byte_buffer out = detail::pack_response(detail::response_ok, values...);
        respond_buffer(out);
    }

    /** The caller's address. */
    endpoint get_endpoint() const {
        const hg_info* info = margo_get_info(m_handle);
        if(!info || !m_state)
            throw exception("thallium: get_endpoint called on a null request");
        hg_addr_t   copy = HG_ADDR_NULL;
        hg_return_t ret  = margo_addr_dup(m_state->mid, info->addr, &copy);
        MARGO_ASSERT(ret, margo_addr_dup);
        return endpoint(m_state, copy);
    }

    /** The underlying handle (owned by the request). */
    hg_handle_t native_handle() const noexcept { return m_handle; }

    /** Whether get_input() was called (on this request or a copy). */
    bool input_was_read() const noexcept { return m_input_read && m_input_read->load(); }

    /** This request with a serialization context: respond() packs the
     *  values with it (their serialize/save read it with ar.get_context()). */
    template <typename... New> request_with_context<std::decay_t<New>...> with_serialization_context(New&&... context) const;
};

/** A request with a serialization context (request::with_serialization_context). */
template <typename... Ctx> class request_with_context {
    request            m_request;
    std::tuple<Ctx...> m_context;

  public:
    request_with_context(request req, std::tuple<Ctx...> context)
    : m_request(std::move(req))
    , m_context(std::move(context)) {}

    template <typename... T> void respond(const T&... values) {
        detail::byte_buffer out;
        out.bytes.push_back(detail::response_ok);
        detail::pack_with_context(out.bytes, out.bulks, m_context, values...);
        m_request.respond_buffer(out);
    }

    /** The input, to decode with the same context. */
    packed_data<Ctx...> get_input() const {
        return std::apply([this](const auto&... c) { return m_request.get_input().with_serialization_context(c...); },
                          m_context);
    }

    const request& base() const noexcept { return m_request; }
};

template <typename... New>
request_with_context<std::decay_t<New>...> request::with_serialization_context(New&&... context) const {
    return request_with_context<std::decay_t<New>...>(*this, std::tuple<std::decay_t<New>...>(std::forward<New>(context)...));
}

/**
 * Responds with data when it goes out of scope, so that no path through a
 * handler forgets to: declare it first, fill data in, return. A failed
 * respond is reported on stderr (a destructor cannot throw).
 */
template <typename ResponseType> class auto_respond {
    const request& m_request;
    ResponseType&  m_data;

  public:
    auto_respond(const request& req, ResponseType& data)
    : m_request(req)
    , m_data(data) {}
    auto_respond(const auto_respond&)            = delete;
    auto_respond(auto_respond&&)                 = delete;
    auto_respond& operator=(const auto_respond&) = delete;
    auto_respond& operator=(auto_respond&&)      = delete;
    ~auto_respond() {
        detail::run_reporting("auto_respond's respond", [this]() { m_request.respond(m_data); });
    }
};

/* ------------------------------------------------------------------------ */
/* async_response, callable_remote_procedure, remote_procedure               */
/* ------------------------------------------------------------------------ */

namespace detail {

/* Checks the status byte of a response and strips it. */
inline packed_data<> unpack_response(std::vector<char> bytes, const std::string& name,
                                     std::shared_ptr<const bulk_table> bulks = nullptr) {
    if(bytes.empty())
        throw exception("thallium: RPC \"", name, "\": empty response");
    if(bytes[0] == response_error) {
        std::string msg;
        try {
            input_archive ar(bytes.data() + 1, bytes.size() - 1);
            ar.load(msg);
        } catch(const exception&) {
            msg = "(unreadable error message)";
        }
        throw exception("thallium: RPC \"", name, "\" failed at the target: ", msg);
    }
    if(bytes[0] != response_ok)
        throw exception("thallium: RPC \"", name, "\": malformed response");
    bytes.erase(bytes.begin());
    return packed_data<>(std::move(bytes), name, std::move(bulks));
}

inline packed_data<> read_output(hg_handle_t handle, const std::string& name) {
    byte_buffer out;
    hg_return_t ret = margo_get_output(handle, &out);
    if(ret != HG_SUCCESS)
        throw margo_exception("margo_get_output", __FILE__, __LINE__, ret,
                              rpc_error_text(name, "margo_get_output", ret));
    std::vector<char>                 bytes;
    std::shared_ptr<const bulk_table> bulks;
    try {
        bulks = take_bulks(out);
        bytes = std::move(out.bytes);
    } catch(...) {
        margo_free_output(handle, &out);
        throw;
    }
    margo_free_output(handle, &out);
    return unpack_response(std::move(bytes), name, std::move(bulks));
}

[[noreturn]] inline void throw_forward_error(const char* fn, hg_return_t ret, const std::string& name) {
    if(ret == HG_TIMEOUT)
        throw timeout(rpc_error_text(name, fn, ret));
    throw margo_exception(fn, __FILE__, __LINE__, ret, rpc_error_text(name, fn, ret));
}

/* One reference to an hg_handle_t, shared by copies. */
struct handle_ref {
    hg_handle_t h = HG_HANDLE_NULL;
    explicit handle_ref(hg_handle_t handle) noexcept
    : h(handle) {}
    handle_ref(const handle_ref&)            = delete;
    handle_ref& operator=(const handle_ref&) = delete;
    ~handle_ref() {
        if(h != HG_HANDLE_NULL) margo_destroy(h);
    }
};

} // namespace detail

/**
 * A call started by callable_remote_procedure::async(). wait() returns its
 * response (or throws as a blocking call would); received() tells whether
 * wait() would return at once. An async_response destroyed without wait()
 * waits for the call to finish.
 */
class async_response {
    friend class callable_remote_procedure;

    std::shared_ptr<detail::handle_ref> m_handle;
    margo_request                       m_req = MARGO_REQUEST_NULL;
    std::string                         m_name;
    bool                                m_ignore_response = false;

    async_response(std::shared_ptr<detail::handle_ref> h, margo_request req, std::string name,
                   bool ignore) noexcept
    : m_handle(std::move(h))
    , m_req(req)
    , m_name(std::move(name))
    , m_ignore_response(ignore) {}

  public:
    async_response(const async_response&)            = delete;
    async_response& operator=(const async_response&) = delete;
    async_response(async_response&& other) noexcept
    : m_handle(std::move(other.m_handle))
    , m_req(std::exchange(other.m_req, MARGO_REQUEST_NULL))
    , m_name(std::move(other.m_name))
    , m_ignore_response(other.m_ignore_response) {}
    async_response& operator=(async_response&& other) noexcept {
        if(&other == this) return *this;
        if(m_req != MARGO_REQUEST_NULL) margo_wait(m_req);
        m_handle          = std::move(other.m_handle);
        m_req             = std::exchange(other.m_req, MARGO_REQUEST_NULL);
        m_name            = std::move(other.m_name);
        m_ignore_response = other.m_ignore_response;
        return *this;
    }
    ~async_response() {
        if(m_req != MARGO_REQUEST_NULL) margo_wait(m_req);
    }

    /** Blocks until the response arrives; once only. */
    packed_data<> wait() {
        if(m_req == MARGO_REQUEST_NULL)
            throw exception("thallium: async_response::wait called twice for RPC \"", m_name, "\"");
        hg_return_t ret = margo_wait(std::exchange(m_req, MARGO_REQUEST_NULL));
        if(ret != HG_SUCCESS) detail::throw_forward_error("margo_wait", ret, m_name);
        if(m_ignore_response) return packed_data<>(m_name);
        return detail::read_output(m_handle->h, m_name);
    }

    /**
     * Waits for whichever of the responses in [begin, end) comes first
     * (margo_wait_any: blocking, not polling), sets completed to it and
     * returns its response; that one is done (erase it before the next
     * call). Throws thallium::timeout / margo_exception as wait() would.
     */
    template <typename Iterator>
    static packed_data<> wait_any(const Iterator& begin, const Iterator& end, Iterator& completed) {
        std::vector<margo_request> reqs;
        for(auto it = begin; it != end; ++it) reqs.push_back(it->m_req);
        std::size_t index = reqs.size();
        hg_return_t ret   = margo_wait_any(reqs.size(), reqs.data(), &index);
        completed         = begin;
        if(index >= reqs.size()) {
            if(ret != HG_SUCCESS) throw margo_exception("margo_wait_any", __FILE__, __LINE__, ret, "margo_wait_any failed");
            throw exception("thallium: async_response::wait_any: no response is pending");
        }
        std::advance(completed, static_cast<typename std::iterator_traits<Iterator>::difference_type>(index));
        async_response& done = *completed;
        done.m_req           = MARGO_REQUEST_NULL; /* margo_wait_any waited on it */
        if(ret != HG_SUCCESS) detail::throw_forward_error("margo_wait_any", ret, done.m_name);
        if(done.m_ignore_response) return packed_data<>(done.m_name);
        return detail::read_output(done.m_handle->h, done.m_name);
    }

    /** True if wait() would not block. */
    bool received() const {
        if(m_req == MARGO_REQUEST_NULL) return true;
        int flag = 0;
        int ret  = margo_test(m_req, &flag);
        if(ret != 0)
            MARGO_THROW(margo_test, detail::int_to_hg_return(ret), "margo_test failed");
        return flag != 0;
    }
};

/**
 * An RPC bound to a target (remote_procedure::on): call it like a function.
 * Copies share one margo handle.
 */
class callable_remote_procedure {
    friend class remote_procedure;
    template <typename... Ctx> friend class callable_remote_procedure_with_context;

    std::shared_ptr<detail::engine_state> m_state;
    std::shared_ptr<detail::handle_ref>   m_handle;
    std::uint16_t                         m_provider_id = 0;
    bool                                  m_ignore_response = false;
    std::string                           m_name;

    callable_remote_procedure(std::shared_ptr<detail::engine_state> state, hg_id_t id, hg_addr_t addr,
                              std::uint16_t provider_id, bool ignore, std::string name)
    : m_state(std::move(state))
    , m_provider_id(provider_id)
    , m_ignore_response(ignore)
    , m_name(std::move(name)) {
        hg_handle_t h   = HG_HANDLE_NULL;
        hg_return_t ret = margo_create(m_state->mid, addr, id, &h);
        if(ret != HG_SUCCESS)
            throw margo_exception("margo_create", __FILE__, __LINE__, ret,
                                  detail::rpc_error_text(m_name, "margo_create", ret));
        try {
            m_handle = std::make_shared<detail::handle_ref>(h);
        } catch(...) {
            margo_destroy(h);
            throw;
        }
    }

    template <typename... T> packed_data<> forward(double timeout_ms, const T&... args) const {
        detail::byte_buffer in = detail::pack_values(args...);
        return forward_buffer(timeout_ms, in);
    }

    packed_data<> forward_buffer(double timeout_ms, detail::byte_buffer& in) const {
        hg_return_t ret = margo_provider_forward_timed(m_provider_id, m_handle->h, &in, timeout_ms);
        if(ret != HG_SUCCESS) detail::throw_forward_error("margo_provider_forward", ret, m_name);
        if(m_ignore_response) return packed_data<>(m_name);
        return detail::read_output(m_handle->h, m_name);
    }

    template <typename... T> async_response iforward(double timeout_ms, const T&... args) const {
        detail::byte_buffer in = detail::pack_values(args...);
        return iforward_buffer(timeout_ms, in);
    }

    async_response iforward_buffer(double timeout_ms, detail::byte_buffer& in) const {
        margo_request req = MARGO_REQUEST_NULL;
        hg_return_t ret = margo_provider_iforward_timed(m_provider_id, m_handle->h, &in, timeout_ms, &req);
        if(ret != HG_SUCCESS) detail::throw_forward_error("margo_provider_iforward", ret, m_name);
        return async_response(m_handle, req, m_name, m_ignore_response);
    }

    template <typename R, typename P> static double to_ms(const std::chrono::duration<R, P>& t) {
        double ms = std::chrono::duration<double, std::milli>(t).count();
        if(!(ms > 0.0)) throw exception("thallium: an RPC timeout must be positive");
        return ms;
    }

  public:
    /** This call with a serialization context: the arguments are packed
     *  with it, and the response decodes with it. */
    template <typename... New>
    callable_remote_procedure_with_context<std::decay_t<New>...> with_serialization_context(New&&... context) const;

    /** Calls the RPC and waits for its response. */
    template <typename... T> packed_data<> operator()(const T&... args) const {
        return forward(0.0, args...);
    }

    /** Same, failing with thallium::timeout after t. */
    template <typename R, typename P, typename... T>
    packed_data<> timed(const std::chrono::duration<R, P>& t, const T&... args) const {
        return forward(to_ms(t), args...);
    }

    /** Starts the call; the returned async_response gives its response. */
    template <typename... T> async_response async(const T&... args) const {
        return iforward(0.0, args...);
    }

    template <typename R, typename P, typename... T>
    async_response timed_async(const std::chrono::duration<R, P>& t, const T&... args) const {
        return iforward(to_ms(t), args...);
    }
};

/** A call with a serialization context (callable_remote_procedure::with_serialization_context). */
template <typename... Ctx> class callable_remote_procedure_with_context {
    callable_remote_procedure m_call;
    std::tuple<Ctx...>        m_context;

    template <typename... T> detail::byte_buffer pack(const T&... args) {
        detail::byte_buffer in;
        detail::pack_with_context(in.bytes, in.bulks, m_context, args...);
        return in;
    }
    packed_data<Ctx...> with_context(packed_data<> p) const {
        return std::apply([&p](const auto&... c) { return p.with_serialization_context(c...); }, m_context);
    }

  public:
    callable_remote_procedure_with_context(callable_remote_procedure call, std::tuple<Ctx...> context)
    : m_call(std::move(call))
    , m_context(std::move(context)) {}

    template <typename... T> packed_data<Ctx...> operator()(const T&... args) {
        detail::byte_buffer in = pack(args...);
        return with_context(m_call.forward_buffer(0.0, in));
    }
    template <typename R, typename P, typename... T>
    packed_data<Ctx...> timed(const std::chrono::duration<R, P>& t, const T&... args) {
        detail::byte_buffer in = pack(args...);
        return with_context(m_call.forward_buffer(callable_remote_procedure::to_ms(t), in));
    }
    /** The response of async() decodes without the context: give it again
     *  to the packed_data (response.wait().with_serialization_context(...)). */
    template <typename... T> async_response async(const T&... args) {
        detail::byte_buffer in = pack(args...);
        return m_call.iforward_buffer(0.0, in);
    }
};

template <typename... New>
callable_remote_procedure_with_context<std::decay_t<New>...>
callable_remote_procedure::with_serialization_context(New&&... context) const {
    return callable_remote_procedure_with_context<std::decay_t<New>...>(
        *this, std::tuple<std::decay_t<New>...>(std::forward<New>(context)...));
}

/**
 * An RPC defined on an engine (engine::define). on() binds it to a target.
 */
class remote_procedure {
    friend class engine;
    friend class auto_remote_procedure;
    template <typename T> friend class provider;

    std::shared_ptr<detail::engine_state> m_state;
    hg_id_t                               m_id = 0;
    bool                                  m_ignore_response = false;
    std::string                           m_name;

    remote_procedure(std::shared_ptr<detail::engine_state> state, hg_id_t id, std::string name) noexcept
    : m_state(std::move(state))
    , m_id(id)
    , m_name(std::move(name)) {}

    void check(const char* func) const {
        if(!m_state || m_state->mid == MARGO_INSTANCE_NULL || m_id == 0)
            throw exception("thallium: remote_procedure::", func, " on a null remote_procedure");
    }

  public:
    remote_procedure() noexcept = default;

    /** Binds the RPC to ep (provider id 0). */
    callable_remote_procedure on(const endpoint& ep) const {
        check("on");
        if(ep.is_null()) throw exception("thallium: RPC \"", m_name, "\" called on a null endpoint");
        return callable_remote_procedure(m_state, m_id, ep.get_addr(), 0, m_ignore_response, m_name);
    }

    /** Binds the RPC to the provider ph names. */
    callable_remote_procedure on(const provider_handle& ph) const {
        check("on");
        if(ph.is_null()) throw exception("thallium: RPC \"", m_name, "\" called on a null provider_handle");
        return callable_remote_procedure(m_state, m_id, ph.get_addr(), ph.provider_id(),
                                         m_ignore_response, m_name);
    }

    /** Callers stop waiting for a response; handlers need not respond. */
    remote_procedure& disable_response() & {
        check("disable_response");
        hg_return_t ret = margo_registered_disable_response(m_state->mid, m_id, 1);
        MARGO_ASSERT(ret, margo_registered_disable_response);
        m_ignore_response = true;
        return *this;
    }
    /** The same on a temporary (define(...).disable_response()). */
    remote_procedure&& disable_response() && { return std::move(disable_response()); }

    /** Removes the registration: its handler is no longer served, and is
     * freed once the calls of it that run return (this does not wait for
     * them, so a handler may deregister its own RPC). */
    void deregister() {
        check("deregister");
        hg_return_t ret = margo_deregister(m_state->mid, m_id);
        MARGO_ASSERT(ret, margo_deregister);
    }

    hg_id_t id() const noexcept { return m_id; }
    const std::string& name() const noexcept { return m_name; }
};

/**
 * A remote_procedure deregistered when it goes out of scope (a provider's
 * members): moves hand the registration over; nothing is deregistered
 * once the engine is finalized.
 */
class auto_remote_procedure : public remote_procedure {
    void drop() noexcept {
        if(m_id != 0 && m_state && m_state->mid != MARGO_INSTANCE_NULL && !m_state->finalized.load())
            margo_deregister(m_state->mid, m_id);
        m_id = 0;
    }

  public:
    auto_remote_procedure() noexcept = default;
    auto_remote_procedure(remote_procedure&& rpc) noexcept
    : remote_procedure(std::move(rpc)) {
        rpc.m_id = 0;
    }
    auto_remote_procedure(auto_remote_procedure&& other) noexcept
    : remote_procedure(std::move(other)) {
        other.m_id = 0;
    }
    auto_remote_procedure& operator=(auto_remote_procedure&& other) noexcept {
        if(this != &other) {
            drop();
            remote_procedure::operator=(std::move(other));
            other.m_id = 0;
        }
        return *this;
    }
    auto_remote_procedure(const auto_remote_procedure&)            = delete;
    auto_remote_procedure& operator=(const auto_remote_procedure&) = delete;
    ~auto_remote_procedure() { drop(); }
};

/* ------------------------------------------------------------------------ */
/* engine::define and the handler trampoline                                 */
/* ------------------------------------------------------------------------ */

namespace detail {

/* Calls f with the decoded values, each cast to the parameter type the
 * handler declares (Params: its parameter types after the request). */
template <typename Params, typename F, typename Tuple, std::size_t... I>
void call_handler(F& f, const request& req, Tuple& values, std::index_sequence<I...>) {
    f(req, static_cast<std::tuple_element_t<I, Params>&&>(std::get<I>(values))...);
}

/* Wraps a (const request&, Args...) callable into the rpc_entry form: it
 * decodes Args from the start of the input (bytes after them are left for
 * request::get_input(), as upstream allows) then calls f. */
template <typename F> auto make_invoker(F&& fun) {
    using traits = callable_traits<std::decay_t<F>>;
    using args   = typename traits::args;
    static_assert(std::tuple_size<args>::value >= 1,
                  "thallium: an RPC handler takes (const thallium::request&, args...)");
    using first = std::tuple_element_t<0, args>;
    static_assert(std::is_same<std::decay_t<first>, request>::value
                      && std::is_const<std::remove_reference_t<first>>::value,
                  "thallium: an RPC handler's first parameter is const thallium::request&");
    return [f = std::forward<F>(fun)](const request& req, const std::vector<char>& in,
                                      const bulk_table* bulks) mutable {
        using values = typename tuple_tail<args>::decayed;
        values        vals{};
        input_archive ar(in.data(), in.size(), bulks);
        std::apply([&](auto&... v) { (ar.load(v), ...); }, vals);
        const std::size_t left = ar.remaining();
        call_handler<typename tuple_tail<args>::types>(f, req, vals, std::make_index_sequence<std::tuple_size<values>::value>{});
        if(left != 0 && !req.input_was_read())
            margo_warning(margo_hg_handle_get_instance(req.native_handle()),
                          "thallium: RPC \"%s\": %zu byte(s) of input beyond the handler's parameters were not "
                          "read (do the caller's arguments match?)",
                          req.get_name().c_str(), left);
    };
}

inline void respond_error(hg_handle_t handle, const std::string& msg) noexcept {
    try {
        byte_buffer out = pack_response(response_error, msg);
        margo_respond(handle, &out);
    } catch(...) {
        /* Nothing more can be done: dropping the handle answers the caller
         * with HG_OTHER_ERROR. */
    }
}

inline hg_return_t rpc_trampoline(hg_handle_t handle) noexcept {
    margo_instance_id mid   = margo_hg_handle_get_instance(handle);
    const hg_info*    info  = margo_get_info(handle);
    rpc_entry*        entry = info ? static_cast<rpc_entry*>(margo_registered_data(mid, info->id)) : nullptr;
    if(entry == nullptr) {
        /* Not registered yet (define() attaches the handler just after
         * registering), or deregistered since this call started. */
        respond_error(handle, "the RPC is not registered (not yet, or not any more)");
        margo_destroy(handle);
        return HG_SUCCESS;
    }
    try {
        std::shared_ptr<engine_state> state = entry->state.lock();
        if(!state) state = std::make_shared<engine_state>(mid, false);
        /* The request adopts the handler's reference to handle. */
        request req(handle, std::move(state), entry->name);
        try {
            byte_buffer in;
            hg_return_t ret = margo_get_input(handle, &in);
            if(ret != HG_SUCCESS)
                throw exception(translate_margo_error_code(ret), ": could not read the input");
            std::shared_ptr<std::vector<char>> bytes;
            std::shared_ptr<bulk_table>        bulks;
            try {
                bulks = take_bulks(in);
                bytes = std::make_shared<std::vector<char>>(std::move(in.bytes));
            } catch(...) {
                margo_free_input(handle, &in);
                throw;
            }
            margo_free_input(handle, &in);
            req.m_input       = bytes;
            req.m_input_bulks = bulks;
            req.m_input_read  = std::make_shared<std::atomic<bool>>(false);
            entry->invoke(req, *bytes, bulks.get());
        } catch(const std::exception& ex) {
            respond_error(handle, std::string("RPC \"") + entry->name + "\": " + ex.what());
        } catch(...) {
            respond_error(handle, std::string("RPC \"") + entry->name + "\": unknown exception");
        }
    } catch(...) {
        /* Could not even build the request (out of memory). */
        respond_error(handle, "the target could not run the handler");
        margo_destroy(handle);
    }
    return HG_SUCCESS;
}

} // namespace detail

template <typename F>
remote_procedure engine::define(const std::string& name, F&& fun, std::uint16_t provider_id, const pool& p) {
    margo_instance_id mid   = checked_mid("define");
    auto              entry = std::make_unique<detail::rpc_entry>();
    entry->invoke           = detail::make_invoker(std::forward<F>(fun));
    entry->state            = m_state;
    entry->name             = name;
    hg_id_t id = margo_provider_register_name(mid, name.c_str(), detail::proc_byte_buffer, detail::proc_byte_buffer,
                                              detail::rpc_trampoline, provider_id, p.native_handle());
    if(id == 0)
        throw margo_exception("margo_provider_register_name", __FILE__, __LINE__, HG_OTHER_ERROR,
                              "could not register RPC \"" + name + "\" for provider "
                                  + std::to_string(provider_id));
    hg_return_t ret = margo_register_data(mid, id, entry.get(), detail::free_rpc_entry);
    if(ret != HG_SUCCESS) {
        margo_deregister(mid, id);
        throw margo_exception("margo_register_data", __FILE__, __LINE__, ret,
                              detail::rpc_error_text(name, "margo_register_data", ret));
    }
    entry.release();
    return remote_procedure(m_state, id, name);
}

inline remote_procedure engine::define(const std::string& name) {
    margo_instance_id mid = checked_mid("define");
    hg_id_t           id  = 0;
    hg_bool_t         flag = HG_FALSE;
    /* Already registered under the default provider id (possibly with a
     * handler this engine serves): keep that registration. */
    if(margo_registered_name(mid, name.c_str(), &id, &flag) == HG_SUCCESS && flag == HG_TRUE)
        return remote_procedure(m_state, id, name);
    id = margo_register_name(mid, name.c_str(), detail::proc_byte_buffer, detail::proc_byte_buffer, nullptr);
    if(id == 0)
        throw margo_exception("margo_register_name", __FILE__, __LINE__, HG_OTHER_ERROR,
                              "could not register RPC \"" + name + "\"");
    return remote_procedure(m_state, id, name);
}

/* ------------------------------------------------------------------------ */
/* provider<T>                                                               */
/* ------------------------------------------------------------------------ */

/** Pass as third argument of provider::define to ignore a method's result. */
typedef std::integral_constant<bool, true> ignore_return_value;

/**
 * Base of a class whose member functions are RPCs at one provider id:
 * class my_provider : public thallium::provider<my_provider> { ... }.
 * define("name", &my_provider::method[, pool]):
 *  - method(const request&, Args...): it responds itself;
 *  - R method(Args...) with R not void: its result is the response;
 *  - void method(Args...): the RPC's response is disabled.
 * The provider's RPCs are deregistered when it is destroyed.
 */
template <typename T> class provider {
    engine               m_engine;
    std::uint16_t        m_provider_id;
    bool                 m_has_identity = false;
    std::vector<hg_id_t> m_ids;

    template <typename M> remote_procedure define_method(const std::string& name, M func, const pool& p,
                                                         bool ignore_result) {
        using traits = detail::callable_traits<M>;
        using args   = typename traits::args;
        using R      = typename traits::result;
        T* self      = static_cast<T*>(this);
        remote_procedure rp;
        if constexpr(detail::first_is_request<args>::value) {
            rp = define_with_request<args>(name, self, func, p,
                                           std::make_index_sequence<std::tuple_size<args>::value - 1>{});
        } else {
            rp = define_without_request<R, args>(name, self, func, p, ignore_result,
                                                 std::make_index_sequence<std::tuple_size<args>::value>{});
            if(std::is_void<R>::value) rp.disable_response();
        }
        m_ids.push_back(rp.id());
        return rp;
    }

    template <typename Args, typename M, std::size_t... I>
    remote_procedure define_with_request(const std::string& name, T* self, M func, const pool& p,
                                         std::index_sequence<I...>) {
        return m_engine.define(
            name,
            [self, func](const request& req, std::tuple_element_t<I + 1, Args>... a) {
                (self->*func)(req, std::forward<std::tuple_element_t<I + 1, Args>>(a)...);
            },
            m_provider_id, p);
    }

    template <typename R, typename Args, typename M, std::size_t... I>
    remote_procedure define_without_request(const std::string& name, T* self, M func, const pool& p,
                                            bool ignore_result, std::index_sequence<I...>) {
        return m_engine.define(
            name,
            [self, func, ignore_result](const request& req, std::tuple_element_t<I, Args>... a) {
                if constexpr(std::is_void<R>::value) {
                    (void)ignore_result;
                    (self->*func)(std::forward<std::tuple_element_t<I, Args>>(a)...);
                } else if(ignore_result) {
                    (self->*func)(std::forward<std::tuple_element_t<I, Args>>(a)...);
                    req.respond();
                } else {
                    req.respond((self->*func)(std::forward<std::tuple_element_t<I, Args>>(a)...));
                }
            },
            m_provider_id, p);
    }

  public:
    /** A provider at `provider_id`; with an `identity` (its kind, e.g.
     *  "my_service"), which provider_handle::get_identity answers, and which
     *  must not be taken by another provider at the same id. */
    provider(const engine& e, std::uint16_t provider_id = 0, const char* identity = nullptr)
    : m_engine(e)
    , m_provider_id(provider_id)
    , m_has_identity(identity != nullptr) {
        if(!e) throw exception("thallium: provider created with a null engine");
        if(!identity) return;
        margo_instance_id mid   = e.get_margo_instance();
        const char*       taken = margo_provider_registered_identity(mid, provider_id);
        if(taken)
            throw exception("thallium: a \"", taken, "\" provider is already registered with id ", provider_id);
        hg_return_t ret = margo_provider_register_identity(mid, provider_id, identity);
        MARGO_ASSERT(ret, margo_provider_register_identity);
    }

    /** The identity registered at this provider's id, or nullptr. */
    const char* identity() const {
        return margo_provider_registered_identity(m_engine.get_margo_instance(), m_provider_id);
    }

    provider(const provider&)            = delete;
    provider(provider&&)                 = delete;
    provider& operator=(const provider&) = delete;
    provider& operator=(provider&&)      = delete;

    virtual ~provider() {
        /* A finalized engine has dropped its registrations already. */
        if(!m_engine.m_state || m_engine.m_state->finalized.load()) return;
        for(hg_id_t id : m_ids) margo_deregister(m_engine.get_margo_instance(), id);
        if(m_has_identity) margo_provider_deregister_identity(m_engine.get_margo_instance(), m_provider_id);
    }

    engine        get_engine() const { return m_engine; }
    std::uint16_t get_provider_id() const noexcept { return m_provider_id; }

  protected:
    template <typename M, typename = std::enable_if_t<std::is_member_function_pointer<M>::value>>
    remote_procedure define(const std::string& name, M func, const pool& p = pool()) {
        return define_method(name, func, p, false);
    }

    template <typename M, typename = std::enable_if_t<std::is_member_function_pointer<M>::value>>
    remote_procedure define(const std::string& name, M func, ignore_return_value, const pool& p = pool()) {
        return define_method(name, func, p, true);
    }
};

/* ------------------------------------------------------------------------ */
/* Bulk transfers                                                            */
/* ------------------------------------------------------------------------ */
/*
 * Built on margo's bulk API (margo_bulk_create, margo_bulk_transfer_timed,
 * margo_bulk_ref_incr / margo_bulk_free), which moves the bytes with
 * internal RPCs to the engine that exposed the memory, in pieces of at most
 * 4 MiB; that engine checks every piece against the handle's size and
 * access mode, so a transfer the mode forbids or that runs past the handle
 * fails with HG_PERMISSION or HG_INVALID_ARG instead of touching memory.
 * A bulk in the arguments or the response of an RPC is written into the
 * byte buffer as a u32 index (0xFFFFFFFF: a null bulk) into the handles
 * that travel after the bytes, each encoded by hg_proc_hg_bulk_t (see
 * detail::proc_byte_buffer); the receiver gets a handle naming the same
 * memory, to transfer against with bulk::on(endpoint of the owner).
 */

/** The access others get to exposed memory. */
enum class bulk_mode : std::uint32_t {
    read_write = HG_BULK_READWRITE,
    read_only  = HG_BULK_READ_ONLY,
    write_only = HG_BULK_WRITE_ONLY
};

class async_bulk_op;
class timed_remote_bulk;

/**
 * A bulk handle: memory this process exposed (engine::expose, wrap) or the
 * memory of another process, received in an RPC's arguments or response.
 * Copies share one hg_bulk_t (margo_bulk_ref_incr); the last one frees it
 * (margo_bulk_free), after which transfers naming it fail at its owner with
 * HG_NOENTRY. A default-constructed bulk is null (size() == 0).
 */
class bulk {
    friend class engine;
    friend class remote_bulk;

    /* The engine that exposed or wrapped the handle (null for a received
     * handle): kept alive as an endpoint keeps it. */
    std::shared_ptr<detail::engine_state> m_state;
    hg_bulk_t                             m_bulk = HG_BULK_NULL;

    /* Adopts one reference to b. */
    bulk(std::shared_ptr<detail::engine_state> state, hg_bulk_t b) noexcept
    : m_state(std::move(state))
    , m_bulk(b) {}

    void release() noexcept {
        if(m_bulk != HG_BULK_NULL) margo_bulk_free(m_bulk);
        m_bulk = HG_BULK_NULL;
        m_state.reset();
    }

  public:
    bulk() noexcept = default;

    bulk(const bulk& other)
    : m_state(other.m_state)
    , m_bulk(other.m_bulk) {
        if(m_bulk != HG_BULK_NULL) {
            hg_return_t ret = margo_bulk_ref_incr(m_bulk);
            MARGO_ASSERT(ret, margo_bulk_ref_incr);
        }
    }

    bulk(bulk&& other) noexcept
    : m_state(std::move(other.m_state))
    , m_bulk(std::exchange(other.m_bulk, HG_BULK_NULL)) {}

    bulk& operator=(const bulk& other) {
        if(&other == this) return *this;
        bulk copy(other);
        return *this = std::move(copy);
    }

    bulk& operator=(bulk&& other) noexcept {
        if(&other == this) return *this;
        release();
        m_state = std::move(other.m_state);
        m_bulk  = std::exchange(other.m_bulk, HG_BULK_NULL);
        return *this;
    }

    ~bulk() { release(); }

    /** Total size in bytes of the memory the handle names (0 if null). */
    std::size_t size() const noexcept {
        return m_bulk == HG_BULK_NULL ? 0 : static_cast<std::size_t>(margo_bulk_get_size(m_bulk));
    }

    /** Number of segments its owner exposed (0 if null). */
    std::uint32_t segment_count() const noexcept {
        return m_bulk == HG_BULK_NULL ? 0 : margo_bulk_get_segment_count(m_bulk);
    }

    bool is_null() const noexcept { return m_bulk == HG_BULK_NULL; }

    /**
     * The hg_bulk_t. With copy == true the caller gets a reference of its own
     * (free it with margo_bulk_free); otherwise it stays this object's.
     */
    hg_bulk_t get_bulk(bool copy = false) const {
        if(copy && m_bulk != HG_BULK_NULL) {
            hg_return_t ret = margo_bulk_ref_incr(m_bulk);
            MARGO_ASSERT(ret, margo_bulk_ref_incr);
        }
        return m_bulk;
    }

    /** The whole handle as owned by the process at ep, to transfer with. */
    remote_bulk on(const endpoint& ep) const;

    /** The size bytes at offset (not checked here: a transfer past the
     * handle fails with HG_INVALID_ARG). */
    bulk_segment select(std::size_t offset, std::size_t size) const;

    /** Same as select(offset, size). */
    bulk_segment operator()(std::size_t offset, std::size_t size) const;

    /** Pushes this (local) bulk into b; returns the bytes moved. */
    std::size_t operator>>(const remote_bulk& b) const;

    /** Pulls b into this (local) bulk; returns the bytes moved. */
    std::size_t operator<<(const remote_bulk& b) const;

    /** operator>> run on another thread. */
    async_bulk_op push_to(const remote_bulk& b) const;

    /** operator<< run on another thread. */
    async_bulk_op pull_from(const remote_bulk& b) const;

    /** Written to and read from thallium's archives (RPC arguments and
     * responses only: elsewhere a non-null bulk throws). */
    template <typename A> void serialize(A& ar) {
        if constexpr(A::is_output) {
            ar.save_bulk_handle(m_bulk);
        } else {
            hg_bulk_t h = ar.load_bulk_handle();
            bulk      received;
            if(h != HG_BULK_NULL) {
                hg_return_t ret = margo_bulk_ref_incr(h);
                MARGO_ASSERT(ret, margo_bulk_ref_incr);
                received.m_bulk = h;
            }
            *this = std::move(received);
        }
    }
};

/**
 * A range (offset, size) of a bulk. A bulk converts to the segment of all
 * its bytes, so a bulk can be given wherever a segment is expected.
 */
class bulk_segment {
    friend class remote_bulk;

    std::size_t m_offset = 0;
    std::size_t m_size   = 0;
    bulk        m_bulk;

  public:
    bulk_segment(const bulk& b)
    : m_offset(0)
    , m_size(b.size())
    , m_bulk(b) {}

    bulk_segment(const bulk& b, std::size_t offset, std::size_t size)
    : m_offset(offset)
    , m_size(size)
    , m_bulk(b) {}

    bulk_segment(const bulk_segment&)            = default;
    bulk_segment(bulk_segment&&)                 = default;
    bulk_segment& operator=(const bulk_segment&) = default;
    bulk_segment& operator=(bulk_segment&&)      = default;
    ~bulk_segment()                              = default;

    /** This segment as owned by the process at ep, to transfer with. */
    remote_bulk on(const endpoint& ep) const;

    /** Pushes this (local) segment into b; returns the bytes moved. */
    std::size_t operator>>(const remote_bulk& b) const;

    /** Pulls b into this (local) segment; returns the bytes moved. */
    std::size_t operator<<(const remote_bulk& b) const;

    async_bulk_op push_to(const remote_bulk& b) const;
    async_bulk_op pull_from(const remote_bulk& b) const;

    /**
     * The part of this segment at offset (relative to it) of size bytes,
     * cut to the segment: an offset past its end gives an empty segment.
     */
    bulk_segment select(std::size_t offset, std::size_t size) const {
        std::size_t off = std::min(offset, m_size);
        return bulk_segment(m_bulk, m_offset + off, std::min(size, m_size - off));
    }

    bulk_segment operator()(std::size_t offset, std::size_t size) const { return select(offset, size); }
};

/**
 * A transfer started by pull_to / push_from (or bulk::push_to, pull_from):
 * a margo_bulk_itransfer, which moves on by itself while the caller does
 * something else. wait() returns the bytes moved or throws what the
 * blocking transfer would; test() says whether wait() would return at
 * once. Destroying (or assigning over) one that was not waited for waits
 * for it: the transfer uses the local memory until then.
 */
class async_bulk_op {
    friend class remote_bulk;

    margo_request            m_req = MARGO_REQUEST_NULL;
    std::size_t              m_size = 0;
    /* Turns a failure's code into the exception the blocking form throws. */
    std::function<void(hg_return_t)> m_raise;

    async_bulk_op(margo_request req, std::size_t size, std::function<void(hg_return_t)> raise) noexcept
    : m_req(req)
    , m_size(size)
    , m_raise(std::move(raise)) {}

    void finish_quietly() noexcept {
        if(m_req != MARGO_REQUEST_NULL) margo_wait(m_req);
        m_req = MARGO_REQUEST_NULL;
    }

  public:
    async_bulk_op(const async_bulk_op&)            = delete;
    async_bulk_op& operator=(const async_bulk_op&) = delete;
    async_bulk_op(async_bulk_op&& other) noexcept
    : m_req(std::exchange(other.m_req, MARGO_REQUEST_NULL))
    , m_size(other.m_size)
    , m_raise(std::move(other.m_raise)) {}
    async_bulk_op& operator=(async_bulk_op&& other) noexcept {
        if(this != &other) {
            finish_quietly();
            m_req   = std::exchange(other.m_req, MARGO_REQUEST_NULL);
            m_size  = other.m_size;
            m_raise = std::move(other.m_raise);
        }
        return *this;
    }
    ~async_bulk_op() { finish_quietly(); }

    bool test() const {
        if(m_req == MARGO_REQUEST_NULL) throw exception("thallium: async_bulk_op::test after wait()");
        int flag = 0;
        margo_test(m_req, &flag);
        return flag != 0;
    }

    /** Blocks until the transfer is done; once only. */
    std::size_t wait() {
        if(m_req == MARGO_REQUEST_NULL) throw exception("thallium: async_bulk_op::wait called twice");
        hg_return_t ret = margo_wait(std::exchange(m_req, MARGO_REQUEST_NULL));
        if(ret != HG_SUCCESS) m_raise(ret);
        return m_size;
    }
};

/**
 * A bulk segment bound to the endpoint of the process that owns it:
 * `remote >> local` pulls the remote bytes into local memory, `remote <<
 * local` pushes local bytes there. local is a bulk or bulk_segment this
 * process exposed; the size moved is the smaller of the two sizes, and is
 * what the operators return. A failure throws thallium::margo_exception
 * naming margo_bulk_transfer and the hg_return_t (thallium::timeout for
 * timed() transfers that run out of time).
 */
class remote_bulk {
    friend class bulk;
    friend class bulk_segment;
    friend class timed_remote_bulk;

    bulk_segment m_segment;
    endpoint     m_endpoint;

    remote_bulk(bulk_segment segment, endpoint ep)
    : m_segment(std::move(segment))
    , m_endpoint(std::move(ep)) {}

    margo_instance_id instance_for(hg_bulk_op_t op) const;
    [[noreturn]] void raise(hg_bulk_op_t op, const bulk_segment& local, std::size_t size, double timeout_ms,
                            hg_return_t ret) const;
    std::size_t       transfer(hg_bulk_op_t op, const bulk_segment& local, double timeout_ms) const;
    async_bulk_op     start(hg_bulk_op_t op, const bulk_segment& local, double timeout_ms) const;

  public:
    remote_bulk(const remote_bulk&)            = default;
    remote_bulk(remote_bulk&&)                 = default;
    remote_bulk& operator=(const remote_bulk&) = default;
    remote_bulk& operator=(remote_bulk&&)      = default;
    ~remote_bulk()                             = default;

    /** Pulls into dest; returns the bytes moved. */
    std::size_t operator>>(const bulk_segment& dest) const { return transfer(HG_BULK_PULL, dest, 0.0); }

    /** Pushes src; returns the bytes moved. */
    std::size_t operator<<(const bulk_segment& src) const { return transfer(HG_BULK_PUSH, src, 0.0); }

    /** operator>> on another thread. */
    async_bulk_op pull_to(const bulk_segment& dest) const;

    /** operator<< on another thread. */
    async_bulk_op push_from(const bulk_segment& src) const;

    /** The part at offset of size bytes, cut to this segment. */
    remote_bulk select(std::size_t offset, std::size_t size) const {
        return remote_bulk(m_segment.select(offset, size), m_endpoint);
    }

    remote_bulk operator()(std::size_t offset, std::size_t size) const { return select(offset, size); }

    /** Transfers that fail with thallium::timeout after timeout_ms
     * milliseconds (0 or less: no timeout). */
    timed_remote_bulk timed(double timeout_ms) const;

    template <typename R, typename P> timed_remote_bulk timed(const std::chrono::duration<R, P>& d) const;
};

/** remote_bulk::timed(): the same transfers, with a deadline. */
class timed_remote_bulk {
    friend class remote_bulk;

    remote_bulk m_remote;
    double      m_timeout_ms;

    timed_remote_bulk(remote_bulk rb, double timeout_ms)
    : m_remote(std::move(rb))
    , m_timeout_ms(timeout_ms) {}

  public:
    timed_remote_bulk(const timed_remote_bulk&)            = default;
    timed_remote_bulk(timed_remote_bulk&&)                 = default;
    timed_remote_bulk& operator=(const timed_remote_bulk&) = default;
    timed_remote_bulk& operator=(timed_remote_bulk&&)      = default;

    std::size_t operator>>(const bulk_segment& dest) const {
        return m_remote.transfer(HG_BULK_PULL, dest, m_timeout_ms);
    }
    std::size_t operator<<(const bulk_segment& src) const {
        return m_remote.transfer(HG_BULK_PUSH, src, m_timeout_ms);
    }
    async_bulk_op pull_to(const bulk_segment& dest) const {
        return m_remote.start(HG_BULK_PULL, dest, m_timeout_ms);
    }
    async_bulk_op push_from(const bulk_segment& src) const {
        return m_remote.start(HG_BULK_PUSH, src, m_timeout_ms);
    }
};

namespace detail {

inline const char* bulk_mode_name(bulk_mode mode) noexcept {
    switch(mode) {
    case bulk_mode::read_only: return "read_only";
    case bulk_mode::write_only: return "write_only";
    case bulk_mode::read_write: return "read_write";
    }
    return "(not a bulk_mode)";
}

inline std::string describe_bulk(const char* side, std::size_t offset, std::size_t size, std::size_t total,
                                 bool null) {
    std::ostringstream ss;
    if(null)
        ss << "a null " << side << " bulk";
    else
        ss << "offset " << offset << " of " << size << " byte(s) of a " << side << " bulk of " << total
           << " byte(s)";
    return ss.str();
}

} // namespace detail

inline margo_instance_id remote_bulk::instance_for(hg_bulk_op_t op) const {
    const char* what = op == HG_BULK_PULL ? "pull" : "push";
    if(m_endpoint.is_null()) throw exception("thallium: bulk ", what, " on a remote_bulk with a null endpoint");
    margo_instance_id mid = m_endpoint.get_engine().get_margo_instance();
    if(mid == MARGO_INSTANCE_NULL) throw exception("thallium: bulk ", what, " through an endpoint without an engine");
    return mid;
}

inline void remote_bulk::raise(hg_bulk_op_t op, const bulk_segment& local, std::size_t size, double timeout_ms,
                               hg_return_t ret) const {
    const bool        pull = op == HG_BULK_PULL;
    const char* const fn   = timeout_ms > 0.0 ? "margo_bulk_transfer_timed" : "margo_bulk_transfer";
    std::string       where;
    try {
        where = static_cast<std::string>(m_endpoint);
    } catch(const exception&) {
        where = "(address unavailable)";
    }
    std::string remote = detail::describe_bulk("remote", m_segment.m_offset, size, m_segment.m_bulk.size(),
                                               m_segment.m_bulk.is_null());
    std::string mine   = detail::describe_bulk("local", local.m_offset, size, local.m_bulk.size(),
                                               local.m_bulk.is_null());
    std::string msg    = std::string(translate_margo_error_code(ret)) + ": "
                    + (pull ? "pull from " + remote + " at " + where + " into " + mine
                            : "push from " + mine + " into " + remote + " at " + where);
    if(ret == HG_TIMEOUT) throw timeout(fn, msg);
    throw margo_exception(fn, __FILE__, __LINE__, ret, msg);
}

inline std::size_t remote_bulk::transfer(hg_bulk_op_t op, const bulk_segment& local, double timeout_ms) const {
    margo_instance_id mid  = instance_for(op);
    const std::size_t size = std::min(local.m_size, m_segment.m_size);
    hg_return_t ret = margo_bulk_transfer_timed(mid, op, m_endpoint.get_addr(), m_segment.m_bulk.m_bulk,
                                                m_segment.m_offset, local.m_bulk.m_bulk, local.m_offset, size,
                                                timeout_ms);
    if(ret != HG_SUCCESS) raise(op, local, size, timeout_ms, ret);
    return size;
}

inline async_bulk_op remote_bulk::start(hg_bulk_op_t op, const bulk_segment& local, double timeout_ms) const {
    margo_instance_id mid  = instance_for(op);
    const std::size_t size = std::min(local.m_size, m_segment.m_size);
    margo_request     req  = MARGO_REQUEST_NULL;
    hg_return_t ret = margo_bulk_itransfer_timed(mid, op, m_endpoint.get_addr(), m_segment.m_bulk.m_bulk,
                                                 m_segment.m_offset, local.m_bulk.m_bulk, local.m_offset, size,
                                                 timeout_ms, &req);
    if(ret != HG_SUCCESS) raise(op, local, size, timeout_ms, ret);
    /* The failure's message names the handles: the closure keeps copies. */
    return async_bulk_op(req, size, [self = *this, local, op, size, timeout_ms](hg_return_t code) {
        self.raise(op, local, size, timeout_ms, code);
    });
}

inline async_bulk_op remote_bulk::pull_to(const bulk_segment& dest) const { return start(HG_BULK_PULL, dest, 0.0); }

inline async_bulk_op remote_bulk::push_from(const bulk_segment& src) const { return start(HG_BULK_PUSH, src, 0.0); }

inline timed_remote_bulk remote_bulk::timed(double timeout_ms) const { return timed_remote_bulk(*this, timeout_ms); }

template <typename R, typename P>
timed_remote_bulk remote_bulk::timed(const std::chrono::duration<R, P>& d) const {
    return timed(std::chrono::duration<double, std::milli>(d).count());
}

inline remote_bulk bulk::on(const endpoint& ep) const { return remote_bulk(bulk_segment(*this), ep); }

inline bulk_segment bulk::select(std::size_t offset, std::size_t size) const {
    return bulk_segment(*this, offset, size);
}

inline bulk_segment bulk::operator()(std::size_t offset, std::size_t size) const { return select(offset, size); }

inline std::size_t bulk::operator>>(const remote_bulk& b) const { return b << bulk_segment(*this); }

inline std::size_t bulk::operator<<(const remote_bulk& b) const { return b >> bulk_segment(*this); }

inline async_bulk_op bulk::push_to(const remote_bulk& b) const { return b.push_from(bulk_segment(*this)); }

inline async_bulk_op bulk::pull_from(const remote_bulk& b) const { return b.pull_to(bulk_segment(*this)); }

inline remote_bulk bulk_segment::on(const endpoint& ep) const { return remote_bulk(*this, ep); }

inline std::size_t bulk_segment::operator>>(const remote_bulk& b) const { return b << *this; }

inline std::size_t bulk_segment::operator<<(const remote_bulk& b) const { return b >> *this; }

inline async_bulk_op bulk_segment::push_to(const remote_bulk& b) const { return b.push_from(*this); }

inline async_bulk_op bulk_segment::pull_from(const remote_bulk& b) const { return b.pull_to(*this); }

inline bulk engine::expose(unsigned count, void** ptrs, std::size_t* sizes, bulk_mode mode) const {
    margo_instance_id mid = checked_mid("expose");
    if(count > 0 && sizes == nullptr) throw exception("thallium: engine::expose with NULL sizes");
    std::vector<hg_size_t> hg_sizes(count);
    std::uint64_t          total = 0;
    for(unsigned i = 0; i < count; ++i) {
        hg_sizes[i] = static_cast<hg_size_t>(sizes[i]);
        total += hg_sizes[i];
    }
    hg_bulk_t   handle = HG_BULK_NULL;
    hg_return_t ret    = margo_bulk_create(mid, static_cast<std::uint32_t>(count), ptrs, hg_sizes.data(),
                                           static_cast<std::uint8_t>(mode), &handle);
    if(ret != HG_SUCCESS)
        throw margo_exception("margo_bulk_create", __FILE__, __LINE__, ret,
                              std::string(translate_margo_error_code(ret)) + ": could not expose "
                                  + std::to_string(count) + " segment(s) of " + std::to_string(total)
                                  + " byte(s) in all as " + detail::bulk_mode_name(mode));
    return bulk(m_state, handle);
}

inline bulk engine::expose(const std::vector<std::pair<void*, std::size_t>>& segments, bulk_mode mode) const {
    if(segments.size() > std::numeric_limits<std::uint32_t>::max())
        throw exception("thallium: engine::expose of ", segments.size(), " segments (at most 2^32 - 1)");
    std::vector<void*>       ptrs;
    std::vector<std::size_t> sizes;
    ptrs.reserve(segments.size());
    sizes.reserve(segments.size());
    for(const auto& s : segments) {
        ptrs.push_back(s.first);
        sizes.push_back(s.second);
    }
    return expose(static_cast<unsigned>(segments.size()), ptrs.data(), sizes.data(), mode);
}

inline bulk engine::wrap(hg_bulk_t blk, bool /* is_local: the handle knows */) const {
    checked_mid("wrap");
    hg_return_t ret = margo_bulk_ref_incr(blk);
    if(ret != HG_SUCCESS)
        throw margo_exception("margo_bulk_ref_incr", __FILE__, __LINE__, ret,
                              std::string(translate_margo_error_code(ret)) + ": engine::wrap of "
                                  + (blk == HG_BULK_NULL ? "HG_BULK_NULL" : "a bulk handle"));
    return bulk(m_state, blk);
}

namespace detail {
/* The margo calls behind engine::list_proxy<T>, for pools and xstreams. */
template <typename T> struct layout_calls;
template <> struct layout_calls<pool> {
    using info = margo_pool_info;
    static pool object(const info& i) { return pool(i.pool); }
    static constexpr hg_return_t (*find_by_name)(margo_instance_id, const char*, info*)      = margo_find_pool_by_name;
    static constexpr hg_return_t (*find_by_index)(margo_instance_id, std::uint32_t, info*)   = margo_find_pool_by_index;
    static constexpr hg_return_t (*find_by_handle)(margo_instance_id, ABT_pool, info*)       = margo_find_pool_by_handle;
    static constexpr std::size_t (*count)(margo_instance_id)                                 = margo_get_num_pools;
    static constexpr hg_return_t (*remove_by_name)(margo_instance_id, const char*)           = margo_remove_pool_by_name;
    static constexpr hg_return_t (*remove_by_index)(margo_instance_id, std::uint32_t)        = margo_remove_pool_by_index;
    static constexpr hg_return_t (*remove_by_handle)(margo_instance_id, ABT_pool)            = margo_remove_pool_by_handle;
    static constexpr hg_return_t (*incr_by_name)(margo_instance_id, const char*)             = margo_pool_ref_incr_by_name;
    static constexpr hg_return_t (*incr_by_index)(margo_instance_id, std::uint32_t)          = margo_pool_ref_incr_by_index;
    static constexpr hg_return_t (*incr_by_handle)(margo_instance_id, ABT_pool)              = margo_pool_ref_incr_by_handle;
    static constexpr hg_return_t (*release_by_name)(margo_instance_id, const char*)          = margo_pool_release_by_name;
    static constexpr hg_return_t (*release_by_index)(margo_instance_id, std::uint32_t)       = margo_pool_release_by_index;
    static constexpr hg_return_t (*release_by_handle)(margo_instance_id, ABT_pool)           = margo_pool_release_by_handle;
    static constexpr hg_return_t (*count_by_name)(margo_instance_id, const char*, unsigned*) = margo_pool_ref_count_by_name;
    static constexpr hg_return_t (*count_by_index)(margo_instance_id, std::uint32_t, unsigned*) = margo_pool_ref_count_by_index;
    static constexpr hg_return_t (*count_by_handle)(margo_instance_id, ABT_pool, unsigned*) = margo_pool_ref_count_by_handle;
};
template <> struct layout_calls<xstream> {
    using info = margo_xstream_info;
    static xstream object(const info& i) { return xstream(i.xstream); }
    static constexpr hg_return_t (*find_by_name)(margo_instance_id, const char*, info*)      = margo_find_xstream_by_name;
    static constexpr hg_return_t (*find_by_index)(margo_instance_id, std::uint32_t, info*)   = margo_find_xstream_by_index;
    static constexpr hg_return_t (*find_by_handle)(margo_instance_id, ABT_xstream, info*)    = margo_find_xstream_by_handle;
    static constexpr std::size_t (*count)(margo_instance_id)                                 = margo_get_num_xstreams;
    static constexpr hg_return_t (*remove_by_name)(margo_instance_id, const char*)           = margo_remove_xstream_by_name;
    static constexpr hg_return_t (*remove_by_index)(margo_instance_id, std::uint32_t)        = margo_remove_xstream_by_index;
    static constexpr hg_return_t (*remove_by_handle)(margo_instance_id, ABT_xstream)         = margo_remove_xstream_by_handle;
    static constexpr hg_return_t (*incr_by_name)(margo_instance_id, const char*)             = margo_xstream_ref_incr_by_name;
    static constexpr hg_return_t (*incr_by_index)(margo_instance_id, std::uint32_t)          = margo_xstream_ref_incr_by_index;
    static constexpr hg_return_t (*incr_by_handle)(margo_instance_id, ABT_xstream)           = margo_xstream_ref_incr_by_handle;
    static constexpr hg_return_t (*release_by_name)(margo_instance_id, const char*)          = margo_xstream_release_by_name;
    static constexpr hg_return_t (*release_by_index)(margo_instance_id, std::uint32_t)       = margo_xstream_release_by_index;
    static constexpr hg_return_t (*release_by_handle)(margo_instance_id, ABT_xstream)        = margo_xstream_release_by_handle;
    static constexpr hg_return_t (*count_by_name)(margo_instance_id, const char*, unsigned*) = margo_xstream_ref_count_by_name;
    static constexpr hg_return_t (*count_by_index)(margo_instance_id, std::uint32_t, unsigned*) = margo_xstream_ref_count_by_index;
    static constexpr hg_return_t (*count_by_handle)(margo_instance_id, ABT_xstream, unsigned*) = margo_xstream_ref_count_by_handle;
};
} // namespace detail

/* The engine's pools or xstreams: by name, index or handle; their number;
 * removal; references (a referenced one cannot be removed). Failures
 * throw margo_exception with margo's code (HG_NOENTRY: not there). */
template <typename T> struct engine::list_proxy {
    margo_instance_id m_mid;
    using calls = detail::layout_calls<T>;
    using info  = typename calls::info;

    static void check(hg_return_t ret, const char* call) {
        if(ret != HG_SUCCESS) throw margo_exception(call, __FILE__, __LINE__, ret);
    }
    named_object_proxy<T> found(hg_return_t ret, const info& i, const char* call) const {
        check(ret, call);
        return named_object_proxy<T>(calls::object(i), i.name ? i.name : "", i.index);
    }

  public:
    named_object_proxy<T> operator[](const char* name) const {
        info i{};
        return found(calls::find_by_name(m_mid, name, &i), i, "margo_find_*_by_name");
    }
    named_object_proxy<T> operator[](const std::string& name) const { return (*this)[name.c_str()]; }
    template <typename I, std::enable_if_t<std::is_integral<I>::value, bool> = true>
    named_object_proxy<T> operator[](I index) const {
        info i{};
        return found(calls::find_by_index(m_mid, static_cast<std::uint32_t>(index), &i), i, "margo_find_*_by_index");
    }
    named_object_proxy<T> operator[](const T& handle) const {
        info i{};
        return found(calls::find_by_handle(m_mid, handle.native_handle(), &i), i, "margo_find_*_by_handle");
    }
    std::size_t size() const { return calls::count(m_mid); }

    void remove(const char* name) const { check(calls::remove_by_name(m_mid, name), "margo_remove_*_by_name"); }
    void remove(const std::string& name) const { remove(name.c_str()); }
    template <typename I, std::enable_if_t<std::is_integral<I>::value, bool> = true> void remove(I index) const {
        check(calls::remove_by_index(m_mid, static_cast<std::uint32_t>(index)), "margo_remove_*_by_index");
    }
    void remove(const T& handle) const { check(calls::remove_by_handle(m_mid, handle.native_handle()), "margo_remove_*_by_handle"); }

    void ref_incr(const char* name) const { check(calls::incr_by_name(m_mid, name), "margo_*_ref_incr_by_name"); }
    void ref_incr(const std::string& name) const { ref_incr(name.c_str()); }
    template <typename I, std::enable_if_t<std::is_integral<I>::value, bool> = true> void ref_incr(I index) const {
        check(calls::incr_by_index(m_mid, static_cast<std::uint32_t>(index)), "margo_*_ref_incr_by_index");
    }
    void ref_incr(const T& handle) const { check(calls::incr_by_handle(m_mid, handle.native_handle()), "margo_*_ref_incr_by_handle"); }

    void release(const char* name) const { check(calls::release_by_name(m_mid, name), "margo_*_release_by_name"); }
    void release(const std::string& name) const { release(name.c_str()); }
    template <typename I, std::enable_if_t<std::is_integral<I>::value, bool> = true> void release(I index) const {
        check(calls::release_by_index(m_mid, static_cast<std::uint32_t>(index)), "margo_*_release_by_index");
    }
    void release(const T& handle) const { check(calls::release_by_handle(m_mid, handle.native_handle()), "margo_*_release_by_handle"); }

    unsigned ref_count(const char* name) const {
        unsigned n = 0;
        check(calls::count_by_name(m_mid, name, &n), "margo_*_ref_count_by_name");
        return n;
    }
    unsigned ref_count(const std::string& name) const { return ref_count(name.c_str()); }
    template <typename I, std::enable_if_t<std::is_integral<I>::value, bool> = true> unsigned ref_count(I index) const {
        unsigned n = 0;
        check(calls::count_by_index(m_mid, static_cast<std::uint32_t>(index), &n), "margo_*_ref_count_by_index");
        return n;
    }
    unsigned ref_count(const T& handle) const {
        unsigned n = 0;
        check(calls::count_by_handle(m_mid, handle.native_handle(), &n), "margo_*_ref_count_by_handle");
        return n;
    }
};

inline engine::list_proxy<pool> engine::pools() const { return list_proxy<pool>{checked_mid("pools")}; }
inline engine::list_proxy<xstream> engine::xstreams() const { return list_proxy<xstream>{checked_mid("xstreams")}; }

inline timed_callback engine::create_timed_callback(std::function<void()> f) const {
    return timed_callback(checked_mid("create_timed_callback"), std::move(f));
}

inline void thread::sleep(const engine& eng, double timeout_ms) {
    margo_thread_sleep(eng.get_margo_instance(), timeout_ms);
}

} // namespace thallium

#endif /* MOCHI_THALLIUM_HPP */
