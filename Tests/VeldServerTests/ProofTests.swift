import Crypto
import Foundation
import PropertyBased
import Testing
import VeldServer
import VeldTestSupport

/// The server's proofs are made with a keyed HMAC copied per proof and base64url written
/// by hand; they must be, byte for byte, what the plain formula gives (SPEC.md: the first
/// 16 bytes of HMAC-SHA256 under the server's key, base64url without padding, after
/// `p1.`), or every proof stored before would stop verifying.
@Suite struct ProofTests {
    static func reference(key: [UInt8], json: [UInt8]) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: json, using: SymmetricKey(data: key))
        return "p1." + Data(mac.prefix(16)).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    @Test func proofsAreThePlainFormula() async {
        await checkProperty(count: 300, input: Gen.int(in: 0...255).array(of: 32...32), Gen.int(in: 0...255).array(of: 0...3_000)) { key, json in
            let keyBytes = key.map(UInt8.init), jsonBytes = json.map(UInt8.init)
            let proofs = ServerProofs(key: keyBytes)
            // The same proofs object many times: the copied HMAC must not keep state.
            for _ in 0..<3 {
                #expect(proofs.proof(ofJSON: jsonBytes) == Self.reference(key: keyBytes, json: jsonBytes))
            }
        }
    }

    @Test func proofsFromManyThreadsAtOnce() async {
        let key = (0..<32).map { UInt8($0 * 7 % 256) }
        let proofs = ServerProofs(key: key)
        let inputs = (0..<64).map { i in Array("{\"id\":\"r-\(i)\"}".utf8) }
        let expected = inputs.map { Self.reference(key: key, json: $0) }
        let results = await withTaskGroup(of: (Int, String).self) { group in
            for (i, input) in inputs.enumerated() { group.addTask { (i, proofs.proof(ofJSON: input)) } }
            var results = Array(repeating: "", count: inputs.count)
            for await (i, proof) in group { results[i] = proof }
            return results
        }
        #expect(results == expected)
    }

    @Test func base64URLIsFoundationsWithoutPadding() async {
        await checkProperty(count: 300, input: Gen.int(in: 0...255).array(of: 0...40)) { bytes in
            let data = Data(bytes.map(UInt8.init))
            let expected = data.base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            #expect(data.withUnsafeBytes { Base64URL.encode($0) } == expected)
        }
    }
}
