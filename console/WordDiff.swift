/// A word-level difference of two texts (longest common subsequence of words, spaces kept
/// with the word before them), for the inbox's side-by-side view of two long values.
enum WordDiff {
    enum Part: Equatable {
        case same(String)
        case removed(String)
        case added(String)
    }

    /// Words with the spaces after them: joined again they give the text back exactly.
    static func words(_ text: String) -> [String] {
        var words: [String] = []
        var current = ""
        var inSpace = false
        for character in text {
            let space = character.isWhitespace
            if inSpace, !space {
                words.append(current)
                current = ""
            }
            current.append(character)
            inSpace = space
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    /// How `new` differs from `old`; nil when the texts are too long to compare word by word
    /// (the two are then shown whole, side by side).
    static func parts(_ old: String, _ new: String) -> [Part]? {
        let a = words(old), b = words(new)
        // A value synced from elsewhere may be long: a bounded table, else both shown whole.
        guard a.count * b.count <= 200_000 else { return nil }
        var table = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in stride(from: a.count - 1, through: 0, by: -1) {
            for j in stride(from: b.count - 1, through: 0, by: -1) {
                table[i][j] = key(a[i]) == key(b[j]) ? table[i + 1][j + 1] + 1 : max(table[i + 1][j], table[i][j + 1])
            }
        }
        var parts: [Part] = []
        func add(_ part: Part) {
            switch (parts.last, part) {
            case (.same(let x)?, .same(let y)): parts[parts.count - 1] = .same(x + y)
            case (.removed(let x)?, .removed(let y)): parts[parts.count - 1] = .removed(x + y)
            case (.added(let x)?, .added(let y)): parts[parts.count - 1] = .added(x + y)
            default: parts.append(part)
            }
        }
        var i = 0, j = 0
        while i < a.count || j < b.count {
            if i < a.count, j < b.count, key(a[i]) == key(b[j]) {
                add(.same(b[j])); i += 1; j += 1
            } else if j < b.count, i == a.count || table[i][j + 1] >= table[i + 1][j] {
                add(.added(b[j])); j += 1
            } else {
                add(.removed(a[i])); i += 1
            }
        }
        return parts
    }

    /// A word without the spaces after it: a word that moved to the end of a line is the same word.
    private static func key(_ word: String) -> Substring {
        word[..<(word.lastIndex { !$0.isWhitespace }.map { word.index(after: $0) } ?? word.startIndex)]
    }
}
