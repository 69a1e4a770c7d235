// What a person reads when something did not work: the server's stable error codes (never its
// English sentences) mapped to friendly words in the app's language.
import type { ErrorCode } from "../../../client-schema/cairn.ts"
import { ApiError, Offline } from "../api.ts"
import { catalogue } from "./i18n.ts"

const t = catalogue(
  {
    offline: "No connection right now. Try again when you are online.",
    unknown: "Something went wrong. Please try again.",
  },
  {
    offline: "Ahora no hay conexión. Vuelve a intentarlo cuando estés en línea.",
    unknown: "Algo salió mal. Por favor, inténtalo de nuevo.",
  }
)

/** Friendly words for the codes a person can meet in the app; others read as "something went wrong". */
const byCode: Partial<Record<ErrorCode, () => string>> = {}

/** The words for a failed call, in the app's language. */
export function problem(err: unknown): string {
  if (err instanceof Offline) return t("offline")
  if (err instanceof ApiError) {
    const words = byCode[err.code as ErrorCode]
    if (words) return words()
    return err.message.charAt(0).toUpperCase() + err.message.slice(1)
  }
  return t("unknown")
}
