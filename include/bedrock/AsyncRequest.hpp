/*
 * bedrock/AsyncRequest.hpp -- a pending Bedrock client request
 * (header-only; upstream Bedrock's class and method names).
 *
 * Passing an AsyncRequest* to a ServiceHandle / ServiceGroupHandle method
 * makes the call asynchronous in upstream's sense: the method returns
 * without throwing for server-side errors, and the result is delivered by
 * wait(), which fills the output pointers given to the method (config
 * string, provider id, ...) or throws the bedrock::Exception carrying the
 * server's error message.
 *
 * In this implementation the request itself is carried out synchronously,
 * by the call that starts it (the C client API underneath has no
 * asynchronous entry points): the method blocks until the daemon has
 * answered, and completed() is always true. What stays as upstream:
 *  - outputs are written, and errors thrown, at wait() and not before;
 *  - wait() a second time does nothing (it does not throw again);
 *  - active() is true from the call until wait();
 *  - passing a request that is still active to a method other than
 *    getConfig / queryConfig throws "AsyncRequest object passed is already
 *    in use";
 *  - invalid (default-constructed) request: wait() and completed() throw
 *    "Invalid bedrock::AsyncRequest object", active() is false;
 *  - copies share one request; when the last copy of an active request is
 *    destroyed or assigned over, it is waited for implicitly (a destructor
 *    swallows the error, an assignment throws it, as upstream's does).
 */
#ifndef BEDROCK_CXX_ASYNC_REQUEST_HPP
#define BEDROCK_CXX_ASYNC_REQUEST_HPP

#include <bedrock/Exception.hpp>

#include <exception>
#include <functional>
#include <memory>
#include <utility>

namespace bedrock {

class ServiceHandle;
class ServiceGroupHandle;

namespace detail {

struct AsyncRequestImpl {
    std::function<void()> deliver; /* writes the outputs */
    std::exception_ptr    error;   /* the failure to throw at wait() */
    bool                  waited = false;

    void wait() {
        if(waited) return;
        waited = true;
        if(error) std::rethrow_exception(error);
        if(deliver) deliver();
    }
};

} // namespace detail

class AsyncRequest {
    friend class ServiceHandle;
    friend class ServiceGroupHandle;

    std::shared_ptr<detail::AsyncRequestImpl> self;

    explicit AsyncRequest(std::shared_ptr<detail::AsyncRequestImpl> impl)
    : self(std::move(impl)) {}

    /* Runs `op` now; its outcome is delivered at wait(). */
    template <typename Op> static AsyncRequest start(Op&& op) {
        auto impl = std::make_shared<detail::AsyncRequestImpl>();
        try {
            impl->deliver = op();
        } catch(...) { impl->error = std::current_exception(); }
        return AsyncRequest(std::move(impl));
    }

    void wait_if_last() {
        if(self && self.use_count() == 1 && !self->waited) self->wait();
    }

  public:
    AsyncRequest() = default;

    AsyncRequest(const AsyncRequest& other) = default;

    AsyncRequest(AsyncRequest&& other) noexcept
    : self(std::move(other.self)) {
        other.self = nullptr;
    }

    AsyncRequest& operator=(const AsyncRequest& other) {
        if(this == &other || self == other.self) return *this;
        wait_if_last();
        self = other.self;
        return *this;
    }

    AsyncRequest& operator=(AsyncRequest&& other) {
        if(this == &other || self == other.self) return *this;
        wait_if_last();
        self       = std::move(other.self);
        other.self = nullptr;
        return *this;
    }

    ~AsyncRequest() {
        try {
            wait_if_last();
        } catch(...) { /* nobody is left to receive the error */
        }
    }

    /** Delivers the result: fills the outputs or throws bedrock::Exception. */
    void wait() const {
        if(!self) throw Exception("Invalid bedrock::AsyncRequest object");
        self->wait();
    }

    /** True once the response has arrived (always, here: see above). */
    bool completed() const {
        if(!self) throw Exception("Invalid bedrock::AsyncRequest object");
        return true;
    }

    /** True between the call and wait(). */
    bool active() const { return self && !self->waited; }

    operator bool() const { return static_cast<bool>(self); }
};

} // namespace bedrock

#endif /* BEDROCK_CXX_ASYNC_REQUEST_HPP */
