/*
 * yokan/cxx/exception.hpp -- yokan::Exception (header-only, over the C API
 * of libmochi; source-compatible with upstream mochi-yokan 0.10).
 */
#ifndef YOKAN_CXX_EXCEPTION_HPP
#define YOKAN_CXX_EXCEPTION_HPP

#include <yokan/common.h>
#include <exception>

namespace yokan {

class Exception : public std::exception {
  public:
    explicit Exception(yk_return_t code) : m_code(code) {}
    const char* what() const noexcept override {
#define X(__err__, __msg__) \
    case __err__: return __msg__;
        switch (m_code) { YOKAN_RETURN_VALUES }
#undef X
        return "";
    }
    yk_return_t code() const noexcept { return m_code; }

  private:
    yk_return_t m_code;
};

} // namespace yokan

/* Evaluates its argument once (a failed call is not made again). */
#define YOKAN_CONVERT_AND_THROW(__err__)               \
    do {                                               \
        const yk_return_t yk_ret_ = (__err__);         \
        if (yk_ret_ != YOKAN_SUCCESS) {                \
            throw ::yokan::Exception(yk_ret_);         \
        }                                              \
    } while (0)

#endif
