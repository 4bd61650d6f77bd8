/*
 * bedrock/Exception.hpp -- the exception type of Bedrock's C++ API
 * (client side and module side), header-only.
 *
 * Source-compatible with upstream Bedrock's bedrock::Exception:
 *
 *   throw bedrock::Exception("plain message");
 *   throw bedrock::Exception("Could not find pool \"{}\" ({} pools)", name, n);
 *
 * Upstream formats with fmt::format. This header has no fmt dependency and
 * implements the subset modules use:
 *  - one argument: the message, verbatim (so server error texts containing
 *    JSON braces are kept as they are);
 *  - several arguments: the first is a format string in which each
 *    replacement field "{}" (or "{...}" with a format spec, which is
 *    ignored) is replaced by the next argument written with operator<<;
 *    "{{" and "}}" stand for "{" and "}". Fields without an argument are
 *    dropped; extra arguments are ignored.
 *
 * details() returns "" here; DetailedException (bedrock/DetailedException.hpp)
 * returns "file:line".
 */
#ifndef BEDROCK_CXX_EXCEPTION_HPP
#define BEDROCK_CXX_EXCEPTION_HPP

#if !defined(__cplusplus) || __cplusplus < 201703L
#error "bedrock/Exception.hpp requires C++17 or later"
#endif

#include <exception>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace bedrock {

namespace detail {

/* Writes one value into a string with operator<<. */
template <typename T> std::string to_text(T&& value) {
    std::ostringstream ss;
    ss << std::forward<T>(value);
    return ss.str();
}

/* The "{}" formatter described at the top of this file. */
inline std::string format_braces(const std::string&              fmt,
                                  const std::vector<std::string>& args) {
    std::string out;
    out.reserve(fmt.size());
    size_t next = 0;
    for(size_t i = 0; i < fmt.size(); ++i) {
        const char c = fmt[i];
        if(c == '{') {
            if(i + 1 < fmt.size() && fmt[i + 1] == '{') {
                out += '{';
                ++i;
                continue;
            }
            const size_t close = fmt.find('}', i);
            if(close == std::string::npos) { /* unterminated: keep as is */
                out.append(fmt, i, std::string::npos);
                break;
            }
            if(next < args.size()) out += args[next];
            ++next;
            i = close;
        } else if(c == '}' && i + 1 < fmt.size() && fmt[i + 1] == '}') {
            out += '}';
            ++i;
        } else {
            out += c;
        }
    }
    return out;
}

template <typename Fmt, typename... Args>
std::string format_message(Fmt&& fmt, Args&&... args) {
    if constexpr(sizeof...(Args) == 0) {
        return to_text(std::forward<Fmt>(fmt));
    } else {
        std::vector<std::string> texts{to_text(std::forward<Args>(args))...};
        return format_braces(to_text(std::forward<Fmt>(fmt)), texts);
    }
}

} // namespace detail

class Exception : public std::exception {
    std::string m_error;

  public:
    Exception() = default;

    Exception(const Exception&)            = default;
    Exception(Exception&&)                 = default;
    Exception& operator=(const Exception&) = default;
    Exception& operator=(Exception&&)      = default;
    ~Exception() override                  = default;

    /* Not used for copies: the enable_if keeps the copy/move constructors
     * in charge when the argument is an Exception (or derived). */
    template <typename Arg, typename... Args,
              typename = std::enable_if_t<
                  !std::is_base_of<Exception, std::decay_t<Arg>>::value>>
    Exception(Arg&& arg, Args&&... args)
    : m_error(detail::format_message(std::forward<Arg>(arg),
                                     std::forward<Args>(args)...)) {}

    const char* what() const noexcept override { return m_error.c_str(); }

    /* Where the exception was thrown ("" unless DetailedException). */
    virtual const char* details() const noexcept { return ""; }
};

} // namespace bedrock

#endif /* BEDROCK_CXX_EXCEPTION_HPP */
