#include "io/service_notifier.hpp"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <boost/asio/steady_timer.hpp>
#include <cstdlib>
#include <cstring>

namespace mmsmon {
namespace asio = boost::asio;

struct ServiceNotifier::Impl {
  OnError on_error;
  bool enabled = std::getenv("NOTIFY_SOCKET") != nullptr;
  std::uint64_t failures = 0;
  bool reported = false;
  std::unique_ptr<asio::steady_timer> timer;
  std::function<std::string()> status_line;
  std::chrono::microseconds period{0};
  std::chrono::steady_clock::time_point last_status{};

  void send(const std::string& msg) {
    if (!enabled) return;
    int r = sd_notify(0, msg.c_str());
    if (r > 0) {
      reported = false;
      return;
    }
    ++failures;
    if (on_error)
      on_error(r < 0 ? std::string("cannot notify the service manager ($NOTIFY_SOCKET): ") +
                           std::strerror(-r)
                     : std::string("$NOTIFY_SOCKET is set but unusable"),
               !reported);
    reported = true;
  }

  void tick(const std::shared_ptr<Impl>& self) {
    if (!timer) return;
    std::string msg = "WATCHDOG=1";
    auto now = std::chrono::steady_clock::now();
    if (status_line && now - last_status >= std::chrono::seconds(5)) {
      msg += "\nSTATUS=" + status_line();
      last_status = now;
    }
    send(msg);
    timer->expires_after(period / 2);
    timer->async_wait([self](const boost::system::error_code& ec) {
      if (!ec) self->tick(self);
    });
  }
};

ServiceNotifier::ServiceNotifier(OnError on_error) : impl_(std::make_shared<Impl>()) {
  impl_->on_error = std::move(on_error);
}

ServiceNotifier::~ServiceNotifier() {
  stop_watchdog();
}

void ServiceNotifier::ready(const std::string& status) {
  impl_->send("READY=1\nSTATUS=" + status);
}

void ServiceNotifier::reloading() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  auto usec = static_cast<unsigned long long>(ts.tv_sec) * 1'000'000ULL +
              static_cast<unsigned long long>(ts.tv_nsec) / 1000ULL;
  impl_->send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

void ServiceNotifier::stopping() {
  impl_->send("STOPPING=1");
}

void ServiceNotifier::status(const std::string& status) {
  impl_->send("STATUS=" + status);
}

std::chrono::microseconds ServiceNotifier::start_watchdog(
    asio::any_io_executor ex, std::function<std::string()> status_line) {
  uint64_t usec = 0;
  if (!impl_->enabled || sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
    return std::chrono::microseconds{0};
  impl_->period = std::chrono::microseconds{usec};
  impl_->status_line = std::move(status_line);
  impl_->timer = std::make_unique<asio::steady_timer>(ex);
  impl_->tick(impl_);
  return impl_->period;
}

void ServiceNotifier::stop_watchdog() {
  if (impl_->timer) impl_->timer->cancel();
  impl_->timer.reset();
}

std::uint64_t ServiceNotifier::failures() const {
  return impl_->failures;
}

}  // namespace mmsmon
