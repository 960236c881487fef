#include "core/signer.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <stdexcept>

namespace mmsmon {
namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr char kHexUpper[] = "0123456789ABCDEF";

void append_hex(std::string& out, const unsigned char* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    out += kHex[p[i] >> 4];
    out += kHex[p[i] & 0xF];
  }
}

std::string to_hex(const unsigned char* p, std::size_t n) {
  std::string out;
  out.reserve(n * 2);
  append_hex(out, p, n);
  return out;
}

using Sha256Digest = std::array<unsigned char, 32>;

// OpenSSL 3 looks an algorithm up by name (under a lock) and allocates a fresh context on
// every one-shot call; a poller signs every request, so each thread fetches SHA-256 and
// HMAC once and reuses its contexts.
class CryptoContexts {
 public:
  CryptoContexts() {
    char digest_name[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
                           OSSL_PARAM_construct_end()};
    if (!sha256_ || !md_ctx_ || !hmac_ || !mac_ctx_ ||
        EVP_MAC_CTX_set_params(mac_ctx_, params) != 1) {
      free_all();  // no destructor runs for a constructor that throws
      throw std::runtime_error("OpenSSL cannot set up SHA-256 or HMAC-SHA256");
    }
  }
  ~CryptoContexts() { free_all(); }
  CryptoContexts(const CryptoContexts&) = delete;
  CryptoContexts& operator=(const CryptoContexts&) = delete;

  static CryptoContexts& get() {
    thread_local CryptoContexts c;
    return c;
  }

  Sha256Digest sha(std::string_view data) {
    Sha256Digest md{};
    unsigned int len = 0;
    if (EVP_DigestInit_ex(md_ctx_, sha256_, nullptr) != 1 ||
        EVP_DigestUpdate(md_ctx_, data.data(), data.size()) != 1 ||
        EVP_DigestFinal_ex(md_ctx_, md.data(), &len) != 1 || len != md.size())
      throw std::runtime_error("SHA-256 failed");
    return md;
  }

  Sha256Digest mac(std::string_view key, std::string_view message) {
    Sha256Digest md{};
    std::size_t len = 0;
    // Keying HMAC costs two SHA-256 blocks and OpenSSL bookkeeping; every request is
    // signed with the same secret, so the context keeps its key until a different one
    // comes (rotated credentials).
    bool ok;
    if (keyed_ && key == key_) {
      ok = EVP_MAC_init(mac_ctx_, nullptr, 0, nullptr) == 1;  // reuse the key
    } else {
      // An empty key is legal for HMAC, but a null pointer means "the previous key":
      // point at a valid zero-length buffer instead.
      static const unsigned char kNoKey[1] = {0};
      const auto* k = key.empty() ? kNoKey : reinterpret_cast<const unsigned char*>(key.data());
      ok = EVP_MAC_init(mac_ctx_, k, key.size(), nullptr) == 1;
      forget_key();
      if (ok) {
        key_.assign(key);
        keyed_ = true;
      }
    }
    if (!ok ||
        EVP_MAC_update(mac_ctx_, reinterpret_cast<const unsigned char*>(message.data()),
                       message.size()) != 1 ||
        EVP_MAC_final(mac_ctx_, md.data(), &len, md.size()) != 1 || len != md.size())
      throw std::runtime_error("HMAC-SHA256 failed");
    return md;
  }

 private:
  void forget_key() {
    if (!key_.empty()) OPENSSL_cleanse(key_.data(), key_.size());
    key_.clear();
    keyed_ = false;
  }

  void free_all() {
    forget_key();
    EVP_MAC_CTX_free(mac_ctx_);
    EVP_MAC_free(hmac_);
    EVP_MD_CTX_free(md_ctx_);
    EVP_MD_free(sha256_);
  }

  EVP_MD* sha256_ = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  EVP_MD_CTX* md_ctx_ = EVP_MD_CTX_new();
  EVP_MAC* hmac_ = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* mac_ctx_ = hmac_ ? EVP_MAC_CTX_new(hmac_) : nullptr;
  std::string key_;  ///< the key mac_ctx_ holds (to tell whether it changed)
  bool keyed_ = false;
};

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
  // Names are compared lower-case; only names that are not already are copied.
  std::vector<std::string> lowered;
  lowered.reserve(in.headers.size());  // no reallocation: views into it stay valid
  std::vector<std::pair<std::string_view, std::string_view>> signed_list;
  signed_list.reserve(in.headers.size());
  for (const auto& [name, value] : in.headers) {
    std::string_view n = name;
    if (std::any_of(n.begin(), n.end(), [](char c) { return c >= 'A' && c <= 'Z'; }))
      n = lowered.emplace_back(lower(name));
    if (n == "host" || n == "content-type" || n.starts_with("x-acs-"))
      signed_list.emplace_back(n, trim(value));
  }
  std::sort(signed_list.begin(), signed_list.end());
  std::string out, names;
  out.reserve(512);
  names.reserve(160);
  out += in.method;
  out += '\n';
  out += in.canonical_uri;
  out += '\n';
  if (!in.query.empty()) out += canonical_query(in.query);
  out += '\n';
  for (std::size_t i = 0; i < signed_list.size(); ++i) {
    const auto& [n, v] = signed_list[i];
    bool continues = i > 0 && signed_list[i - 1].first == n;
    if (continues) {
      out.back() = ',';  // replace the '\n' of the previous value of this name
    } else {
      out += n;
      out += ':';
      if (!names.empty()) names += ';';
      names += n;
    }
    out += v;
    out += '\n';
  }
  out += '\n';
  out += names;
  out += '\n';
  out += in.payload_sha256;
  if (signed_headers) *signed_headers = std::move(names);
  return out;
}

std::string sha256_hex(std::string_view data) {
  auto md = CryptoContexts::get().sha(data);
  return to_hex(md.data(), md.size());
}

std::string hmac_sha256_hex(std::string_view secret, std::string_view message) {
  auto md = CryptoContexts::get().mac(secret, message);
  return to_hex(md.data(), md.size());
}

namespace {
constexpr std::string_view kAlgorithmLine = "ACS3-HMAC-SHA256\n";
}

std::string string_to_sign(std::string_view canonical) {
  auto md = CryptoContexts::get().sha(canonical);
  std::string out;
  out.reserve(kAlgorithmLine.size() + 2 * md.size());
  out += kAlgorithmLine;
  append_hex(out, md.data(), md.size());
  return out;
}

std::string authorization(const SigningInput& in, std::string_view access_key_id,
                          std::string_view access_key_secret) {
  auto& crypto = CryptoContexts::get();
  std::string names;
  std::string canonical = canonical_request(in, &names);
  // The string to sign on the stack: the algorithm line and 64 hex digits.
  auto digest = crypto.sha(canonical);
  std::array<char, kAlgorithmLine.size() + 64> to_sign{};
  std::copy(kAlgorithmLine.begin(), kAlgorithmLine.end(), to_sign.begin());
  for (std::size_t i = 0; i < digest.size(); ++i) {
    to_sign[kAlgorithmLine.size() + 2 * i] = kHex[digest[i] >> 4];
    to_sign[kAlgorithmLine.size() + 2 * i + 1] = kHex[digest[i] & 0xF];
  }
  auto signature = crypto.mac(access_key_secret, {to_sign.data(), to_sign.size()});
  std::string out;
  out.reserve(64 + access_key_id.size() + names.size() + 2 * signature.size());
  out += "ACS3-HMAC-SHA256 Credential=";
  out += access_key_id;
  out += ",SignedHeaders=";
  out += names;
  out += ",Signature=";
  append_hex(out, signature.data(), signature.size());
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
