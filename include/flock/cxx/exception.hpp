/*
 * flock/cxx/exception.hpp -- the exception type of the header-only C++ API
 * of Flock (namespace flock).
 *
 * Source-compatible with upstream mochi-flock's C++ API: flock::Exception
 * wraps a flock_return_t; what() returns the message associated with that
 * code in FLOCK_RETURN_VALUES (flock-common.h), or "Unknown error" for a
 * value outside the table. FLOCK_CONVERT_AND_THROW(code) throws one unless
 * the code is FLOCK_SUCCESS; every wrapper of this API uses it on the return
 * value of the C call it makes.
 */
#ifndef FLOCK_CXX_EXCEPTION_HPP
#define FLOCK_CXX_EXCEPTION_HPP

#include <flock/flock-common.h>

#include <exception>

namespace flock {

class Exception : public std::exception {
  public:
    /* Implicit on purpose: `throw flock::Exception{ret}` and `= ret` both work. */
    Exception(flock_return_t code) noexcept
    : m_code(code) {}

    const char* what() const noexcept override {
        return message_of(m_code);
    }

    /* The flock_return_t this exception was made from. */
    flock_return_t code() const noexcept { return m_code; }

  private:
    static const char* message_of(flock_return_t code) noexcept {
        switch(code) {
/* X is the X-macro parameter name; a user definition of X is preserved. */
#pragma push_macro("X")
#undef X
#define X(flock_code_, flock_text_) \
            case flock_code_: return flock_text_;
            FLOCK_RETURN_VALUES
#undef X
#pragma pop_macro("X")
        }
        return "Unknown error";
    }

    flock_return_t m_code;
};

} // namespace flock

/* Throws flock::Exception(err) if err is not FLOCK_SUCCESS. */
#define FLOCK_CONVERT_AND_THROW(err) do {                       \
    const auto flock_convert_err_ = (err);                     \
    if(flock_convert_err_ != FLOCK_SUCCESS)                     \
        throw ::flock::Exception(flock_convert_err_);           \
} while(0)

#endif /* FLOCK_CXX_EXCEPTION_HPP */
