// An in-app "network usage" debug screen: what each labelled subsystem moved
// in the last minute or hour, largest first, cellular bytes highlighted. The
// rows come from `recentUsage(windowMs:)`, answered from the logger's memory
// (no disk, no log parsing), so the screen can refresh every second.
//
// The row model is Foundation-only, so it compiles and is tested on Linux
// (scripts/test-swift.sh, tests/swift/xctest/Tests/SockstatLogTests/
// RecentUsageTests.swift); the SwiftUI view exists where SwiftUI does. In an
// app whose logger lives in the packet-tunnel extension, send the rows over
// the provider's app message (they are plain values).
import Foundation
import SockstatLog

/// One line of the screen.
struct UsageRow: Equatable, Sendable, Identifiable {
    let id: Int32
    /// The label's name, or `Label(N)` as upstream prints unnamed labels.
    let title: String
    /// Sent + received, bytes.
    let totalBytes: Int64
    /// The cellular part of it, bytes.
    let cellularBytes: Int64
    /// Draw the row in the cellular colour: some of its bytes used the data plan.
    var highlighted: Bool { cellularBytes > 0 }
    /// "1.2 MB (300 KB cellular)".
    var detail: String {
        guard highlighted else { return Self.format(totalBytes) }
        return "\(Self.format(totalBytes)) (\(Self.format(cellularBytes)) cellular)"
    }

    /// Decimal units, one decimal place: "512 B", "1.5 KB", "12.0 MB".
    static func format(_ bytes: Int64) -> String {
        let units = ["KB", "MB", "GB", "TB"]
        guard bytes >= 1_000 else { return "\(bytes) B" }
        var value = Double(bytes) / 1_000
        var unit = 0
        while value >= 1_000, unit < units.count - 1 {
            value /= 1_000
            unit += 1
        }
        return String(format: "%.1f", value) + " " + units[unit]
    }

    init(_ usage: LabelUsage) {
        id = usage.label
        title = usage.name ?? "Label(\(usage.label))"
        totalBytes = usage.tx + usage.rx
        cellularBytes = usage.cellularTx + usage.cellularRx
    }
}

enum UsageScreen {
    /// The windows the screen offers, ms.
    static let lastMinuteMs: Int64 = 60_000
    static let lastHourMs: Int64 = 3_600_000

    /// The rows for the last `windowMs`, largest first (the core's order).
    /// An error (the logger shut down) shows as an empty screen.
    static func rows(_ logger: SockstatLogger, windowMs: Int64 = lastMinuteMs) -> [UsageRow] {
        ((try? logger.recentUsage(windowMs: windowMs)) ?? []).map(UsageRow.init)
    }
}

#if canImport(SwiftUI)
import SwiftUI

/// The list, refreshed once a second while visible.
struct UsageDebugView: View {
    let logger: SockstatLogger
    @State private var rows: [UsageRow] = []
    private let tick = Timer.publish(every: 1, on: .main, in: .common).autoconnect()

    var body: some View {
        List(rows) { row in
            HStack {
                Text(row.title)
                Spacer()
                Text(row.detail).foregroundColor(row.highlighted ? .orange : .secondary)
            }
        }
        .navigationTitle("Network usage, last minute")
        .onAppear { rows = UsageScreen.rows(logger) }
        .onReceive(tick) { _ in rows = UsageScreen.rows(logger) }
    }
}
#endif
