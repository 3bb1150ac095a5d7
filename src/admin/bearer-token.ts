import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Checks `Authorization: Bearer <token>` headers in constant time: both
 * sides are hashed first, so neither the token's content nor its length
 * shows in how long a wrong guess takes.
 */
export class BearerToken {
    private readonly digest: Buffer;

    constructor(token: string) {
        this.digest = sha256(token);
    }

    /** Whether `header` carries the token. */
    admits(header: string | undefined): boolean {
        const match = /^Bearer (.+)$/.exec(header ?? "");
        return timingSafeEqual(sha256(match?.[1] ?? ""), this.digest) && match !== null;
    }
}

function sha256(text: string): Buffer {
    return createHash("sha256").update(text).digest();
}
