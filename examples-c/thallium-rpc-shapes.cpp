/*
 * thallium-rpc-shapes: the forms thallium programs define and call RPCs in,
 * one engine calling itself.
 *
 *   thallium-rpc-shapes PROTOCOL
 *
 * Handlers given as a function, a std::function (with a provider id and a
 * pool), lambdas taking a non-const reference or nothing; an enum, a
 * std::array and a std::unordered_map round trip; provider<T> methods that
 * are const, take the request and a non-const reference, have their result
 * ignored (ignore_return_value) or return void; remote_procedure::deregister,
 * also while a call of the handler runs (from another thread, or by the
 * handler itself): the running call keeps using its captures, later calls
 * get HG_NOENTRY;
 * 20000 random byte strings (some the prefix of a valid encoding) decoded as
 * nested types either decode or throw thallium::exception.
 * Prints one line per check; exits with the number of failed checks.
 */
#include <thallium.hpp>
#include <thallium/serialization/stl/array.hpp>
#include <thallium/serialization/stl/map.hpp>
#include <thallium/serialization/stl/tuple.hpp>
#include <thallium/serialization/stl/vector.hpp>
#include <thallium/serialization/stl/string.hpp>
#include <thallium/serialization/stl/unordered_map.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <random>
#include <vector>
#include <iostream>
#include <string>
#include <unordered_map>

namespace tl = thallium;

static int failures = 0;

static void check(bool cond, const std::string& what) {
    std::cout << (cond ? "ok: " : "FAIL: ") << what << std::endl;
    if(!cond) ++failures;
}

static void plain(const tl::request& req, int x) { req.respond(x * 2); }

/* A call that must fail with HG_NOENTRY (margo_create, in on(), or the
 * forward). */
static void check_noentry(const std::function<void()>& call, const std::string& what) {
    try {
        call();
        check(false, what);
    } catch(const tl::margo_exception& ex) {
        check(ex.error() == HG_NOENTRY, what + " (" + ex.what() + ")");
    }
}

/* Live (not moved-from) copies of a sentinel, counted in a global: a handler
 * reads whether its own captures were destroyed without touching them. */
struct sentinel {
    std::atomic<int>& live;
    bool              owns = true;
    explicit sentinel(std::atomic<int>& l) : live(l) { ++live; }
    sentinel(const sentinel& o) : live(o.live), owns(o.owns) { if(owns) ++live; }
    sentinel(sentinel&& o) noexcept : live(o.live), owns(o.owns) { o.owns = false; }
    sentinel& operator=(const sentinel&) = delete;
    ~sentinel() { if(owns) --live; }
};
static std::atomic<int> blocking_captures{0}, once_captures{0};

/* Deregistering while calls of the handler run: the handler (its
 * std::function and captures) is freed once they return, not before. Each
 * handler answers with how many copies of its captures are alive. */
static void deregister_while_running(tl::engine& e, const tl::endpoint& self) {
    /* From another thread, while the handler waits inside. */
    std::promise<void> entered, release;
    std::shared_future<void> go = release.get_future().share();
    tl::remote_procedure blocking = e.define("blocking", [&entered, go, s = sentinel(blocking_captures)](const tl::request& r) {
        entered.set_value();
        go.wait();
        r.respond(blocking_captures.load());
    });
    std::future<int> answer = std::async(std::launch::async, [&] { return blocking.on(self)().as<int>(); });
    entered.get_future().wait();
    try {
        /* Made before deregister, so that the request reaches the target. */
        tl::callable_remote_procedure late = blocking.on(self);
        blocking.deregister();
        check_noentry([&] { late(); }, "a request after deregister, while an earlier call runs, gets HG_NOENTRY");
    } catch(...) {
        release.set_value(); /* else the handler, and answer's destructor, wait for ever */
        throw;
    }
    release.set_value();
    check(answer.get() == 1, "deregistered while its handler ran: the handler's captures lived until it returned");

    /* By the handler itself (a shutdown RPC, say). */
    auto own = std::make_shared<std::unique_ptr<tl::remote_procedure>>();
    *own = std::make_unique<tl::remote_procedure>(e.define("once", [own, s = sentinel(once_captures)](const tl::request& r) {
        (*own)->deregister();
        r.respond(once_captures.load());
    }));
    check(e.define("once").on(self)().as<int>() == 1,
          "a handler deregistering its own RPC: no deadlock, its captures live until it returns");
    check_noentry([&] { e.define("once").on(self)(); }, "the self-deregistered RPC gets HG_NOENTRY");
}

enum class color : std::uint8_t { red, green };

class shapes : public tl::provider<shapes> {
    int m_offset = 1;

    int  offset_by(int a) const { return a + m_offset; }
    void shout(const tl::request& req, std::string& s) {
        s += "!";
        req.respond(s);
    }
    int  discarded(int a) { return a; }
    void silent() {}

  public:
    shapes(const tl::engine& e, std::uint16_t id)
    : tl::provider<shapes>(e, id, "shapes") {
        define("offset_by", &shapes::offset_by);
        define("shout", &shapes::shout, tl::pool());
        define("discarded", &shapes::discarded, tl::ignore_return_value());
        define("silent", &shapes::silent);
    }
};

struct record {
    std::string                   name;
    std::vector<std::int64_t>     values;
    std::map<std::string, double> weights;
    bool                          flag = false;
    template <typename A> void serialize(A& ar) { ar & name & values & weights & flag; }
};

/* Hostile bytes: every input decodes or throws thallium::exception. */
static void random_decoding() {
    using nested = std::tuple<std::vector<record>, std::map<int, std::vector<std::string>>, color>;
    std::mt19937      rng(12345);
    std::vector<char> valid;
    {
        record r{"r", {1, -2, 3}, {{"w", 0.5}}, true};
        nested n{{r, r}, {{7, {"a", "bc"}}}, color::red};
        tl::output_archive ar(valid);
        ar & n;
    }
    int decoded = 0, refused = 0, other = 0;
    for(int i = 0; i < 20000; ++i) {
        std::vector<char> bytes;
        if(i % 2 == 0) {
            /* A mutated prefix of a valid encoding. */
            bytes.assign(valid.begin(), valid.begin() + static_cast<long>(rng() % (valid.size() + 1)));
            if(!bytes.empty()) bytes[rng() % bytes.size()] = static_cast<char>(rng());
        } else {
            bytes.resize(rng() % 64);
            for(char& b : bytes) b = static_cast<char>(rng());
        }
        try {
            tl::input_archive ar(bytes.data(), bytes.size());
            nested            n;
            ar & n;
            ++decoded;
        } catch(const tl::exception&) {
            ++refused;
        } catch(...) {
            ++other;
        }
    }
    check(other == 0 && decoded + refused == 20000,
          "20000 random inputs: " + std::to_string(decoded) + " decoded, " + std::to_string(refused)
              + " refused with thallium::exception, " + std::to_string(other) + " other");
}

int main(int argc, char** argv) {
    if(argc != 2) {
        std::cerr << "usage: " << argv[0] << " PROTOCOL" << std::endl;
        return 2;
    }
    random_decoding();
    try {
        tl::engine   e(argv[1], THALLIUM_SERVER_MODE);
        tl::endpoint self = e.self();

        e.define("plain", plain);
        check(e.define("plain").on(self)(21).as<int>() == 42, "a function as handler");

        std::function<void(const tl::request&, double, float)> fn = [](const tl::request& r, double d, float f) {
            r.respond(d + f);
        };
        tl::remote_procedure add = e.define("add", fn, 0, e.get_handler_pool());
        double               sum = add.on(self)(1.5, 2.0f);
        check(sum == 3.5, "a std::function handler with provider id and pool");

        e.define("ref", [](const tl::request& r, std::string& s) {
            s += "?";
            r.respond(s);
        });
        std::string s = e.define("ref").on(self)(std::string("why"));
        check(s == "why?", "a handler taking a non-const reference");

        e.define("none", [](const tl::request& r) { r.respond(); });
        check(e.define("none").on(self)().has_data(), "no arguments, an empty response");

        e.define("mixed", [](const tl::request& r, color c, std::array<int, 2> a,
                             const std::unordered_map<int, std::string>& m) { r.respond(c, a, m); });
        auto [c, a, m] = e.define("mixed")
                             .on(self)(color::green, std::array<int, 2>{1, 2},
                                       std::unordered_map<int, std::string>{{1, "one"}})
                             .as<color, std::array<int, 2>, std::unordered_map<int, std::string>>();
        check(c == color::green && a[1] == 2 && m.size() == 1 && m.at(1) == "one",
              "an enum, a std::array and a std::unordered_map round trip");

        {
            shapes              p(e, 3);
            tl::provider_handle ph(self, 3);
            check(e.define("offset_by").on(ph)(41).as<int>() == 42, "a const provider method");
            check(e.define("shout").on(ph)(std::string("hey")).as<std::string>() == "hey!",
                  "a provider method taking the request and a non-const reference");
            check(e.define("discarded").on(ph)(5).has_data(), "ignore_return_value: an empty response");
            check(!e.define("silent").disable_response().on(ph)().has_data(),
                  "a void provider method: response disabled");
            check(ph.get_identity() == "shapes" && std::string(p.identity()) == "shapes",
                  "provider<T>(engine, id, identity): provider_handle::get_identity answers it");
            try {
                shapes twin(e, 3);
                check(false, "a second provider with an identity at the same id throws");
            } catch(const tl::exception& ex) {
                check(true, std::string("a second provider with an identity at the same id throws: ") + ex.what());
            }
        }
        try {
            tl::provider_handle(self, 3).get_identity();
            check(false, "a destroyed provider's identity is gone");
        } catch(const tl::margo_exception& ex) {
            check(ex.error() == HG_NOENTRY, "a destroyed provider's identity is gone (HG_NOENTRY)");
        }
        try {
            e.define("offset_by").on(tl::provider_handle(self, 3))(1);
            check(false, "a destroyed provider's RPCs are deregistered");
        } catch(const tl::margo_exception& ex) {
            check(ex.error() == HG_NOENTRY, "a destroyed provider's RPCs are deregistered");
        }

        add.deregister();
        try {
            add.on(self)(1.0, 1.0f);
            check(false, "a deregistered RPC cannot be called");
        } catch(const tl::margo_exception& ex) {
            check(ex.error() == HG_NOENTRY, std::string("a deregistered RPC cannot be called (") + ex.what() + ")");
        }
        deregister_while_running(e, self);
        e.finalize();
        /* Finalizing joined the handlers' streams: the deferred frees ran. */
        check(blocking_captures == 0 && once_captures == 0,
              "the deregistered handlers were freed, once, after their calls returned");
    } catch(const tl::exception& ex) {
        check(false, std::string("unexpected thallium exception: ") + ex.what());
    }
    std::cout << "thallium-rpc-shapes: "
              << (failures ? std::to_string(failures) + " check(s) failed" : "all checks passed") << std::endl;
    return failures;
}
