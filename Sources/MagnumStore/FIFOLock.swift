/// A first-in, first-out asynchronous mutex.
///
/// The SQLite store has one connection; every `read` and `write` session holds this lock for its
/// whole duration so that statements of two sessions never interleave on that connection.
/// Waiters are resumed strictly in arrival order, and ownership passes directly from the
/// releasing session to the next waiter, so a stream of reads cannot starve a writer.
///
/// Waiting is not cancellable: a cancelled task still waits for its turn (sessions are short), and
/// then observes its cancellation in the body.
actor FIFOLock {
    private var held = false
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var head = 0

    /// Waits until the lock is free (or handed over) and takes it.
    func acquire() async {
        if !held {
            held = true
            return
        }
        await withCheckedContinuation { continuation in
            waiters.append(continuation)
        }
    }

    /// Hands the lock to the oldest waiter, or frees it when nobody waits.
    func release() {
        if head < waiters.count {
            let next = waiters[head]
            head += 1
            if head > 64, head * 2 > waiters.count {
                waiters.removeFirst(head)
                head = 0
            }
            next.resume()
        } else {
            waiters.removeAll(keepingCapacity: true)
            head = 0
            held = false
        }
    }

    /// Runs `body` while holding the lock; releases it however `body` ends.
    nonisolated func withLock<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        await acquire()
        do {
            let value = try await body()
            await release()
            return value
        } catch {
            await release()
            throw error
        }
    }
}
