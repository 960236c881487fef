#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mmsmon {

/// Name/value pairs in the order given (query parameters, headers).
using Params = std::vector<std::pair<std::string, std::string>>;

/// Percent-encodes everything but RFC 3986 unreserved characters (`A-Z a-z 0-9 - _ . ~`),
/// with upper-case hex: space is `%20`, `*` is `%2A`, `~` stays.
std::string percent_encode(std::string_view s);

/// Decodes `%XX` escapes (`+` stays `+`); malformed escapes are kept as they are.
std::string percent_decode(std::string_view s);

/// Encodes each `/`-separated segment of a raw path; the result is both the canonical URI
/// and what goes on the wire.
std::string encode_path(std::string_view raw_path);

/// `k=v` pairs sorted by name, names and values percent-encoded, joined by `&`.
std::string canonical_query(const Params& query);

/// The parts of a request that ACS3-HMAC-SHA256 covers.
struct SigningInput {
  std::string method;          ///< `GET`, `POST`, ...
  std::string canonical_uri;   ///< the encoded path, as sent
  Params query;                ///< raw (decoded) names and values
  Params headers;              ///< every header; only host, content-type, x-acs-* are signed
  std::string payload_sha256;  ///< hex SHA-256 of the body
};

/// The canonical request, step 1 of the algorithm. `signed_headers` receives the names.
std::string canonical_request(const SigningInput& in, std::string* signed_headers = nullptr);

/// `ACS3-HMAC-SHA256\n` + hex SHA-256 of the canonical request.
std::string string_to_sign(std::string_view canonical_request);

/// Hex HMAC-SHA256 of `message` keyed with `secret` as is.
std::string hmac_sha256_hex(std::string_view secret, std::string_view message);

/// Hex SHA-256.
std::string sha256_hex(std::string_view data);

/// The whole `Authorization` header value for `in`, signed with the given key pair.
/// The secret is used only as the HMAC key; it is never copied into the result.
std::string authorization(const SigningInput& in, std::string_view access_key_id,
                          std::string_view access_key_secret);

/// The parsed `Authorization` header of a signed request (used by the simulator).
struct ParsedAuthorization {
  std::string algorithm;
  std::string credential;
  std::vector<std::string> signed_headers;
  std::string signature;
};
bool parse_authorization(std::string_view header, ParsedAuthorization& out);

}  // namespace mmsmon
