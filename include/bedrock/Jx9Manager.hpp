/*
 * bedrock/Jx9Manager.hpp -- deliberately not provided (BEDROCK_NOT_PROVIDED):
 * including it stops the build with the reason, rather than a missing
 * file or a class whose calls fail later.
 */
#ifndef BEDROCK_CXX_JX9MANAGER_HPP
#define BEDROCK_CXX_JX9MANAGER_HPP
#error "Jx9 is not supported by this implementation (libmochi): configurations are JSON or TOML, and Bedrock's Jx9 queries answer BEDROCK_ERR_NOT_SUPPORTED"
#endif /* BEDROCK_CXX_JX9MANAGER_HPP */
