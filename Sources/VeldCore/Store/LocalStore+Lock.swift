import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension LocalStore {
    /// Runs `body` holding the profile's sync lock (`sync.lock` beside the database, an
    /// advisory `flock`): one sync at a time per profile, whether the second comes from
    /// another terminal or a cron job. A second caller waits, polling, up to `waiting`
    /// seconds (calling `onWait` once), then gives up with an error that says so. The lock
    /// goes with the process, so a crashed sync never leaves it held.
    public func withSyncLock<T: Sendable>(waiting: TimeInterval,
                                          sleep: @Sendable (TimeInterval) async throws -> Void = { try await Task.sleep(nanoseconds: UInt64($0 * 1e9)) },
                                          onWait: () -> Void = {},
                                          _ body: () async throws -> T) async throws -> T {
        let path = home.appendingPathComponent("sync.lock").path
        #if canImport(Glibc)
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        #else
        let fd = Darwin.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        #endif
        guard fd >= 0 else {
            throw LocalStoreError(.unreadable("cannot open \(path) (errno \(errno)); check the profile folder's permissions"), home: home)
        }
        defer { close(fd) }
        let step: TimeInterval = 0.2
        var waited: TimeInterval = 0
        var told = false
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                throw LocalStoreError(.unreadable("cannot lock \(path) (errno \(errno))"), home: home)
            }
            guard waited < waiting else {
                throw LocalStoreError(.syncRunning(
                    "another `veld sync` of this profile is still running (\(home.path)); wait for it to finish, or try again later"), home: home)
            }
            if !told { onWait(); told = true }
            try await sleep(step)
            waited += step
        }
        defer { flock(fd, LOCK_UN) }
        return try await body()
    }
}
