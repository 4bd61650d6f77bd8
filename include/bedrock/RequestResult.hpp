/*
 * bedrock/RequestResult.hpp -- the outcome of a request: success, an error
 * text, and a value (upstream Bedrock's class template), header-only. For
 * std::string one text serves as value or error; for bool the value is
 * the success flag.
 */
#ifndef BEDROCK_CXX_REQUEST_RESULT_HPP
#define BEDROCK_CXX_REQUEST_RESULT_HPP

#include <string>

namespace bedrock {

template <typename T> class RequestResult {
  public:
    bool&              success() { return m_success; }
    const bool&        success() const { return m_success; }
    std::string&       error() { return m_error; }
    const std::string& error() const { return m_error; }
    T&                 value() { return m_value; }
    const T&           value() const { return m_value; }

    template <typename A> void serialize(A& ar) { ar(m_success, m_error, m_value); }

  private:
    bool        m_success = true;
    std::string m_error;
    T           m_value{};
};

template <> class RequestResult<std::string> {
  public:
    bool&              success() { return m_success; }
    const bool&        success() const { return m_success; }
    std::string&       error() { return m_text; }
    const std::string& error() const { return m_text; }
    std::string&       value() { return m_text; }
    const std::string& value() const { return m_text; }

    template <typename A> void serialize(A& ar) { ar(m_success, m_text); }

  private:
    bool        m_success = true;
    std::string m_text;
};

template <> class RequestResult<bool> {
  public:
    bool&              success() { return m_success; }
    const bool&        success() const { return m_success; }
    std::string&       error() { return m_error; }
    const std::string& error() const { return m_error; }
    bool&              value() { return m_success; }
    const bool&        value() const { return m_success; }

    template <typename A> void serialize(A& ar) { ar(m_success, m_error); }

  private:
    bool        m_success = true;
    std::string m_error;
};

} // namespace bedrock

#endif /* BEDROCK_CXX_REQUEST_RESULT_HPP */
