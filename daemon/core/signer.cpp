#include "core/signer.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>

namespace mmsmon {
namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr char kHexUpper[] = "0123456789ABCDEF";

std::string to_hex(const unsigned char* p, std::size_t n) {
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out += kHex[p[i] >> 4];
    out += kHex[p[i] & 0xF];
  }
  return out;
}

bool unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

std::string percent_encode(std::string_view s) {
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    if (unreserved(c)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHexUpper[c >> 4];
      out += kHexUpper[c & 0xF];
    }
  }
  return out;
}

std::string percent_decode(std::string_view s) {
  auto hexval = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

std::string encode_path(std::string_view raw_path) {
  std::string out;
  std::size_t start = 0;
  for (;;) {
    auto slash = raw_path.find('/', start);
    out += percent_encode(raw_path.substr(start, slash - start));
    if (slash == std::string_view::npos) break;
    out += '/';
    start = slash + 1;
  }
  return out;
}

std::string canonical_query(const Params& query) {
  std::vector<std::pair<std::string, std::string>> enc;
  enc.reserve(query.size());
  for (const auto& [k, v] : query)
    enc.emplace_back(percent_encode(k), percent_encode(v));
  std::stable_sort(enc.begin(), enc.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string out;
  for (const auto& [k, v] : enc) {
    if (!out.empty()) out += '&';
    out += k;
    out += '=';
    out += v;
  }
  return out;
}

std::string canonical_request(const SigningInput& in, std::string* signed_headers) {
  // Same-named headers are joined with ',' after sorting their values, as the official signer.
  std::vector<std::pair<std::string, std::string_view>> signed_list;
  signed_list.reserve(in.headers.size());
  for (const auto& [name, value] : in.headers) {
    std::string n = lower(name);
    if (n == "host" || n == "content-type" || n.starts_with("x-acs-"))
      signed_list.emplace_back(std::move(n), trim(value));
  }
  std::sort(signed_list.begin(), signed_list.end());
  std::string headers, names;
  for (std::size_t i = 0; i < signed_list.size(); ++i) {
    const auto& [n, v] = signed_list[i];
    bool continues = i > 0 && signed_list[i - 1].first == n;
    if (continues) {
      headers.back() = ',';  // replace the '\n' of the previous value of this name
    } else {
      headers += n;
      headers += ':';
      if (!names.empty()) names += ';';
      names += n;
    }
    headers += v;
    headers += '\n';
  }
  if (signed_headers) *signed_headers = names;
  std::string out;
  out.reserve(512);
  out += in.method;
  out += '\n';
  out += in.canonical_uri;
  out += '\n';
  out += canonical_query(in.query);
  out += '\n';
  out += headers;
  out += '\n';
  out += names;
  out += '\n';
  out += in.payload_sha256;
  return out;
}

std::string sha256_hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_sha256(), nullptr);
  return to_hex(md.data(), len);
}

std::string hmac_sha256_hex(std::string_view secret, std::string_view message) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), md.data(), &len);
  return to_hex(md.data(), len);
}

std::string string_to_sign(std::string_view canonical) {
  return "ACS3-HMAC-SHA256\n" + sha256_hex(canonical);
}

std::string authorization(const SigningInput& in, std::string_view access_key_id,
                          std::string_view access_key_secret) {
  std::string names;
  std::string canonical = canonical_request(in, &names);
  std::string signature = hmac_sha256_hex(access_key_secret, string_to_sign(canonical));
  std::string out = "ACS3-HMAC-SHA256 Credential=";
  out += access_key_id;
  out += ",SignedHeaders=";
  out += names;
  out += ",Signature=";
  out += signature;
  return out;
}

bool parse_authorization(std::string_view header, ParsedAuthorization& out) {
  auto space = header.find(' ');
  if (space == std::string_view::npos) return false;
  out.algorithm = std::string(header.substr(0, space));
  std::string_view rest = header.substr(space + 1);
  bool have_cred = false, have_names = false, have_sig = false;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    std::string_view part = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    auto eq = part.find('=');
    if (eq == std::string_view::npos) return false;
    auto key = part.substr(0, eq);
    auto val = part.substr(eq + 1);
    if (key == "Credential") {
      out.credential = std::string(val);
      have_cred = true;
    } else if (key == "SignedHeaders") {
      out.signed_headers.clear();
      std::size_t s = 0;
      while (s <= val.size()) {
        auto semi = val.find(';', s);
        auto name = val.substr(s, semi == std::string_view::npos ? semi : semi - s);
        if (!name.empty()) out.signed_headers.emplace_back(name);
        if (semi == std::string_view::npos) break;
        s = semi + 1;
      }
      have_names = true;
    } else if (key == "Signature") {
      out.signature = std::string(val);
      have_sig = true;
    }
  }
  return have_cred && have_names && have_sig;
}

}  // namespace mmsmon
