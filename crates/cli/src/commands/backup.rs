//! `recover` and `verify-backup`: restore a node's store from an encrypted backup, or check one
//! without restoring it. The password is the node's database password (`badger_password`),
//! read from `--password-file`, else one line of stdin when it is not a terminal, else a
//! terminal prompt. Output is a summary (node, time, records per table), never a secret.

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};

use mpcium_state::backup::{self, files, BackupError, Replace};
use mpcium_state::identity::{files as identity_files, SecretText};
use mpcium_state::store::SecretPassword;
use zeroize::Zeroizing;

use crate::args::{RecoverArgs, VerifyBackupArgs};
use crate::error::CliError;

/// `mpcium-cli recover`.
pub fn recover(args: &RecoverArgs) -> Result<(), CliError> {
    let file = choose_file(
        args.backup_file.as_deref(),
        args.backup_dir.as_deref(),
        args.node.as_deref(),
    )?;
    let password = read_password(args.password_file.as_deref())?;
    let replace = if args.force {
        Replace::Allow
    } else {
        Replace::Refuse
    };
    let report =
        backup::recover(&file, &password, &args.recovery_path, replace).map_err(backup_error)?;
    println!("{}", report.summary);
    let restored = report
        .summary
        .records
        .saturating_sub(report.presignatures_dropped);
    println!(
        "restored {restored} records into {}{}",
        report.target.display(),
        if report.replaced {
            " (replaced the existing file)"
        } else {
            ""
        }
    );
    println!(
        "dropped {} presignatures: they may have been used after the backup was taken and are \
         never restored",
        report.presignatures_dropped
    );
    Ok(())
}

/// `mpcium-cli verify-backup`.
pub fn verify(args: &VerifyBackupArgs) -> Result<(), CliError> {
    let file = choose_file(
        args.backup_file.as_deref(),
        args.backup_dir.as_deref(),
        args.node.as_deref(),
    )?;
    let password = read_password(args.password_file.as_deref())?;
    let summary = backup::verify(&file, &password).map_err(backup_error)?;
    println!("{summary}");
    println!("ok: the backup decrypts, matches its digest and record count, and every record opens with the password");
    Ok(())
}

/// The given file, else the newest backup (of `node`, if given) in the given directory.
fn choose_file(
    file: Option<&Path>,
    dir: Option<&Path>,
    node: Option<&str>,
) -> Result<PathBuf, CliError> {
    match (file, dir) {
        (Some(file), _) => Ok(file.to_path_buf()),
        (None, Some(dir)) => files::newest(dir, node).map_err(backup_error),
        (None, None) => Err(CliError::Usage(
            "give --backup-file <FILE> or --backup-dir <DIR>".to_owned(),
        )),
    }
}

/// Backup errors carry their own wording (file, problem, what to do).
fn backup_error(error: BackupError) -> CliError {
    CliError::Usage(error.to_string())
}

fn read_password(password_file: Option<&Path>) -> Result<SecretPassword, CliError> {
    let text = match password_file {
        Some(path) => {
            let bytes = Zeroizing::new(identity_files::read_small_file(path)?);
            let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
                CliError::Usage(format!(
                    "password file {} is not UTF-8 text",
                    path.display()
                ))
            })?;
            SecretText::from_file_text(text)
        }
        None if !std::io::stdin().is_terminal() => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).map_err(|e| {
                CliError::Usage(format!("cannot read the password from stdin: {e}"))
            })?;
            SecretText::from_file_text(line)
        }
        None => SecretText::new(
            rpassword::prompt_password("Enter the database password (badger_password): ").map_err(
                |e| {
                    CliError::Usage(format!(
                        "cannot read the password: {e}; pass --password-file <FILE>"
                    ))
                },
            )?,
        ),
    };
    if text.is_empty() {
        return Err(CliError::Usage(
            "no password given; pass --password-file <FILE> or type the database password"
                .to_owned(),
        ));
    }
    Ok(SecretPassword::new(text.expose().to_owned()))
}
