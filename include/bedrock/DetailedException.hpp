/*
 * bedrock/DetailedException.hpp -- a bedrock::Exception that also records
 * where it was thrown (details() = "file:line"), as upstream Bedrock's.
 *
 *   throw BEDROCK_DETAILED_EXCEPTION("Invalid index {}", i);
 */
#ifndef BEDROCK_CXX_DETAILED_EXCEPTION_HPP
#define BEDROCK_CXX_DETAILED_EXCEPTION_HPP

#include <bedrock/Exception.hpp>

#include <string>
#include <utility>

namespace bedrock {

class DetailedException : public Exception {
    std::string m_location;

  public:
    template <typename... Args>
    DetailedException(int line, const char* filename, Args&&... args)
    : Exception(std::forward<Args>(args)...)
    , m_location(std::string(filename ? filename : "") + ":"
                 + std::to_string(line)) {}

    const char* details() const noexcept override { return m_location.c_str(); }
};

} // namespace bedrock

#define BEDROCK_DETAILED_EXCEPTION(...) \
    ::bedrock::DetailedException(__LINE__, __FILE__, __VA_ARGS__)

#endif /* BEDROCK_CXX_DETAILED_EXCEPTION_HPP */
