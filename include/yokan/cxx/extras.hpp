/*
 * yokan/cxx/extras.hpp -- the optional last arguments ("extras") of the
 * yokan::Database and yokan::Collection methods (header-only; upstream
 * mochi-yokan 0.10's yokan::Timeout). Valid C++11.
 *
 * An extra goes after a method's mode:
 *     db.get(key, ksize, buf, &size, YOKAN_MODE_DEFAULT, yokan::Timeout{500});
 * The method then calls the C API's yk_*_timed function with it.
 */
#ifndef YOKAN_CXX_EXTRAS_HPP
#define YOKAN_CXX_EXTRAS_HPP

#include <type_traits>

namespace yokan {

/* How long one call may last, in milliseconds. Past it the call throws
 * yokan::Exception with YOKAN_ERR_TIMEOUT (a WAIT request also stops
 * waiting at the provider). 0, the default, sets no limit of the caller's
 * own: libmochi's defaults apply (see README). */
struct Timeout {
    double ms = 0.0;
    constexpr Timeout() = default;
    constexpr explicit Timeout(double m) : ms(m) {}
};

namespace detail {

/* True when every type of the pack is an extra the methods understand
 * (written as a recursion: fold expressions need C++17). */
template <typename... Ts>
struct known_extras : std::true_type {};
template <typename T, typename... Ts>
struct known_extras<T, Ts...>
    : std::integral_constant<bool, std::is_same<typename std::decay<T>::type, Timeout>::value &&
                                       known_extras<Ts...>::value> {};

/* The first Timeout's milliseconds, 0 when there is none. Any other type is
 * stepped over rather than rejected here, so that the static_assert in
 * extras_timeout_ms is the only error a wrong extra produces. */
inline double first_timeout_ms() { return 0.0; }
template <typename... Rest>
double first_timeout_ms(const Timeout& t, const Rest&...) {
    return t.ms;
}
template <typename Other, typename... Rest>
double first_timeout_ms(const Other&, const Rest&... rest) {
    return first_timeout_ms(rest...);
}

/* Every method hands its extras here: an unknown one stops the build, and
 * the result is the timeout_ms argument of the yk_*_timed function. */
template <typename... Extras>
double extras_timeout_ms(const Extras&... extras) {
    static_assert(known_extras<Extras...>::value,
                  "unsupported extra argument passed to a yokan::Database or yokan::Collection method "
                  "(after the mode, the only extra accepted is yokan::Timeout)");
    return first_timeout_ms(extras...);
}

} // namespace detail
} // namespace yokan

#endif
