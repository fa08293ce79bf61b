// The client of the catch-up bench: a QuickFIX C++ initiator with validation on (the stock
// FIXT.1.1 and FIX 5.0 SP2 dictionaries), the same for the bridge and for the peer.
//
// Usage: qfclient <settings file> <expected messages>
// Logs on (ResetSeqNumFlag=Y), counts application messages until it has the expected number
// or stdin closes, then prints one line:
//   received <n> rejects <r> logon_ns <t> first_ns <t> last_ns <t>
// (wall-clock ns: the Logon reply, the first and the last application message).
#include <quickfix/Application.h>
#include <quickfix/MessageStore.h>
#include <quickfix/Session.h>
#include <quickfix/SessionSettings.h>
#include <quickfix/SocketInitiator.h>
#include <quickfix/Log.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>

namespace {

long long now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class Client : public FIX::Application {
 public:
  explicit Client(long expected) : expected_(expected) {}
  void onCreate(const FIX::SessionID&) override {}
  void onLogon(const FIX::SessionID&) override { logon_ns_ = now_ns(); }
  void onLogout(const FIX::SessionID&) override {}
  void toAdmin(FIX::Message& message, const FIX::SessionID&) override {
    if (message.getHeader().getField(FIX::FIELD::MsgType) == "3") ++rejects_;
  }
  void toApp(FIX::Message& message, const FIX::SessionID&) throw(FIX::DoNotSend) override {
    if (message.getHeader().getField(FIX::FIELD::MsgType) == "j") ++rejects_;
  }
  void fromAdmin(const FIX::Message&, const FIX::SessionID&)
      throw(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
             FIX::RejectLogon) override {}
  void fromApp(const FIX::Message&, const FIX::SessionID&)
      throw(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
             FIX::UnsupportedMessageType) override {
    long long t = now_ns();
    if (received_ == 0) first_ns_ = t;
    last_ns_ = t;
    if (++received_ >= expected_) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_.notify_all();
    }
  }
  void wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return received_ >= expected_ || stop_; });
  }
  void stop() {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    done_.notify_all();
  }
  void report() const {
    std::cout << "received " << received_ << " rejects " << rejects_ << " logon_ns "
              << logon_ns_ << " first_ns " << first_ns_ << " last_ns " << last_ns_
              << std::endl;
  }

 private:
  long expected_;
  std::atomic<long> received_{0};
  std::atomic<long> rejects_{0};
  std::atomic<long long> logon_ns_{0}, first_ns_{0}, last_ns_{0};
  std::mutex mutex_;
  std::condition_variable done_;
  bool stop_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: qfclient <settings> <expected>" << std::endl;
    return 2;
  }
  try {
    FIX::SessionSettings settings(argv[1]);
    Client client(std::stol(argv[2]));
    FIX::MemoryStoreFactory store;
    FIX::SocketInitiator initiator(client, store, settings);
    initiator.start();
    std::thread watcher([&client] {
      std::string line;
      std::getline(std::cin, line);  // stdin closed: stop waiting
      client.stop();
    });
    watcher.detach();
    client.wait();
    client.report();
    initiator.stop(true);
  } catch (const std::exception& e) {
    std::cerr << "qfclient: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
