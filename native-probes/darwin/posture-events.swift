// Posture Agent event helper for macOS: a long-running process that prints one JSON line per event
// on stdout (protocol "posture-events/1"; see native-probes/PROTOCOL.md, "Event helpers"), read by the
// daemon through its exec module (src/agent/daemon/events/native-events.ts):
//   {"v":1,"event":"ready"}                        both listeners registered (detail says if one failed)
//   {"v":1,"event":"network","detail":"<keys>"}    State:/Network/Global/IPv4 or IPv6 changed
//   {"v":1,"event":"sleep","detail":"..."}         kIOMessageSystemWillSleep (the system is going to sleep)
//   {"v":1,"event":"wake","detail":"..."}          kIOMessageSystemHasPoweredOn (the system has woken up)
// A line only asks the daemon to re-probe; the probes read the posture themselves.
//
// What it relies on (Apple's documentation and SDK headers, checked through the team's search tool):
// - SystemConfiguration, SCDynamicStore reference: SCDynamicStoreCreate(CFAllocator?, CFString,
//   SCDynamicStoreCallBack?, UnsafeMutablePointer<SCDynamicStoreContext>?) -> SCDynamicStore?;
//   SCDynamicStoreSetNotificationKeys(store, keys, patterns) -> Bool;
//   SCDynamicStoreCreateRunLoopSource(allocator, store, order) -> CFRunLoopSource?. The callback gets the
//   keys that changed. "State:/Network/Global/IPv4" / "IPv6" hold the primary service's addresses and
//   router: they change when the active network changes (what SCDynamicStoreKeyCreateNetworkGlobalEntity
//   with kSCDynamicStoreDomainState and kSCEntNetIPv4/IPv6 would build).
// - IOKit, IOPMLib.h: IORegisterForSystemPower(refcon, &IONotificationPortRef?, IOServiceInterestCallback,
//   &io_object_t) -> io_connect_t (MACH_PORT_NULL on failure), "Provides sleep/wake notifications to
//   applications"; kIOMessageSystemWillSleep "Callers MUST acknowledge this event by calling
//   IOAllowPowerChange" (else sleep is delayed 30 s); IOAllowPowerChange(io_connect_t, Int) "Must be used
//   when handling kIOMessageCanSystemSleep and kIOMessageSystemWillSleep" and for no other message.
//   kIOMessageSystemHasPoweredOn: "the system and its devices have woken up", delivered to user clients of
//   IORegisterForSystemPower. The notification port's run loop source comes from
//   IONotificationPortGetRunLoopSource. The helper never vetoes sleep (never IOCancelPowerChange).
// - IOMessage.h defines the messages as iokit_common_msg(x) = sys_iokit | sub_iokit_common | x, with
//   sys_iokit = err_system(0x38) = 0x38 << 26 = 0xE0000000 and sub_iokit_common = 0. Swift does not
//   import function-like macros, so the three values are spelled out below.
//
// The daemon sees the helper's end: a closed stdout (the daemon gone) kills it with SIGPIPE on the next
// write; the daemon stops it with SIGTERM. If one listener cannot be registered the other still runs
// and "ready" says which failed; if neither can, it exits 1 with a message on stderr and the daemon
// retries with a growing delay. Polling covers every gap.
//
// Build (on a Mac, Xcode 15+): swiftc -O -swift-version 5 -o posture-events posture-events.swift
// Installed as native-probes/darwin/posture-events and code-signed by the installer, like
// posture-keyhelper. NOT compiled or run by the team: no Mac (and no swiftc) was available; written
// against the documentation above.
import Foundation
import IOKit
import IOKit.pwr_mgt
import SystemConfiguration

let messageCanSystemSleep: UInt32 = 0xE000_0270  // kIOMessageCanSystemSleep
let messageSystemWillSleep: UInt32 = 0xE000_0280  // kIOMessageSystemWillSleep
let messageSystemHasPoweredOn: UInt32 = 0xE000_0300  // kIOMessageSystemHasPoweredOn

func emit(_ event: String, _ detail: String? = nil) {
  var object: [String: Any] = ["v": 1, "event": event]
  if let detail = detail { object["detail"] = String(detail.prefix(400)) }
  guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
  // FileHandle writes straight to fd 1 (no stdio buffer): each event reaches the daemon at once.
  FileHandle.standardOutput.write(data + Data([0x0A]))
}

func complain(_ message: String) {
  FileHandle.standardError.write(Data("posture-events: \(message)\n".utf8))
}

// Kept for the life of the process (the callbacks are C function pointers: no captures, globals only).
var networkStore: SCDynamicStore?
var rootPort: io_connect_t = 0
var notifyPort: IONotificationPortRef?
var notifier: io_object_t = 0

// Network: the dynamic store calls back on this thread's run loop with the keys that changed.
func registerNetwork() -> Bool {
  let callback: SCDynamicStoreCallBack = { _, changedKeys, _ in
    let keys = (changedKeys as NSArray as? [String]) ?? []
    emit("network", keys.joined(separator: ","))
  }
  guard let store = SCDynamicStoreCreate(nil, "posture-events" as CFString, callback, nil) else {
    complain("SCDynamicStoreCreate failed: \(String(cString: SCErrorString(SCError())))")
    return false
  }
  let keys = ["State:/Network/Global/IPv4", "State:/Network/Global/IPv6"] as CFArray
  guard SCDynamicStoreSetNotificationKeys(store, keys, nil) else {
    complain("SCDynamicStoreSetNotificationKeys failed: \(String(cString: SCErrorString(SCError())))")
    return false
  }
  guard let source = SCDynamicStoreCreateRunLoopSource(nil, store, 0) else {
    complain("SCDynamicStoreCreateRunLoopSource failed")
    return false
  }
  CFRunLoopAddSource(CFRunLoopGetCurrent(), source, .defaultMode)
  networkStore = store  // kept alive for the life of the process
  return true
}

// Sleep/wake: the root power domain's messages, acknowledged where IOPMLib.h says they must be.
func registerPower() -> Bool {
  let callback: IOServiceInterestCallback = { _, _, messageType, messageArgument in
    switch messageType {
    case messageCanSystemSleep:
      // Idle sleep may be vetoed here; the helper allows it.
      IOAllowPowerChange(rootPort, Int(bitPattern: messageArgument))
    case messageSystemWillSleep:
      emit("sleep", "kIOMessageSystemWillSleep")
      IOAllowPowerChange(rootPort, Int(bitPattern: messageArgument))
    case messageSystemHasPoweredOn:
      emit("wake", "kIOMessageSystemHasPoweredOn")
    default:
      break  // kIOMessageSystemWillPowerOn and others: must not be acknowledged
    }
  }
  rootPort = IORegisterForSystemPower(nil, &notifyPort, callback, &notifier)
  guard rootPort != 0, let port = notifyPort else {
    complain("IORegisterForSystemPower failed")
    return false
  }
  CFRunLoopAddSource(
    CFRunLoopGetCurrent(), IONotificationPortGetRunLoopSource(port).takeUnretainedValue(), .commonModes)
  return true
}

let network = registerNetwork()
let power = registerPower()
if !network && !power {
  complain("no listener could be registered")
  exit(1)
}
if network && power {
  emit("ready")
} else {
  emit("ready", network ? "network only: IORegisterForSystemPower failed" : "sleep/wake only: SCDynamicStore failed")
}
CFRunLoopRun()
