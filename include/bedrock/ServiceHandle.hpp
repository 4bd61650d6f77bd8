/*
 * bedrock/ServiceHandle.hpp -- handle on one Bedrock daemon. The class is
 * defined in bedrock/Client.hpp (with Client and ServiceGroupHandle, which
 * it needs); see there for the API and its differences from upstream.
 */
#ifndef BEDROCK_CXX_SERVICE_HANDLE_HPP
#define BEDROCK_CXX_SERVICE_HANDLE_HPP

#include <bedrock/Client.hpp>

#endif /* BEDROCK_CXX_SERVICE_HANDLE_HPP */
