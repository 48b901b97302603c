//! Who a scheduled task runs as, changed through Task Scheduler COM: the definition's principal
//! rewritten with the rest kept, registered again and read back; a stored-password task refused
//! by name.

use agent::workstation::{TaskLogon, TaskPrincipal};
use agent::Workstation;
use secdesc::Sid;

use super::workstation::WindowsWorkstation;
use super::{task_principal, under_wine};

const OLD: &str = "S-1-5-21-1004336348-1177238915-682003330-1301";
const NEW: &str = "S-1-5-21-2000000000-2000000001-2000000002-1301";

fn definition(user: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-16\"?>\r\n<Task version=\"1.2\" xmlns=\"http://schemas.microsoft.com/windows/2004/02/mit/task\">\r\n  <RegistrationInfo><Description>rehome test</Description></RegistrationInfo>\r\n  <Principals>\r\n    <Principal id=\"Author\">\r\n      <UserId>{}</UserId>\r\n      <LogonType>S4U</LogonType>\r\n      <RunLevel>LeastPrivilege</RunLevel>\r\n    </Principal>\r\n  </Principals>\r\n  <Settings><Enabled>false</Enabled></Settings>\r\n  <Actions Context=\"Author\">\r\n    <Exec><Command>C:\\windows\\system32\\cmd.exe</Command><Arguments>/c exit 0</Arguments></Exec>\r\n  </Actions>\r\n</Task>\r\n",
        user
    )
}

fn principal(sid: &str, logon: TaskLogon) -> TaskPrincipal {
    TaskPrincipal {
        account: sid.parse::<Sid>().unwrap(),
        logon,
    }
}

#[test]
fn a_principal_is_rewritten_and_everything_else_kept() {
    let xml = definition(OLD);
    let new = task_principal::with_principal(&xml, "\\t", &principal(NEW, TaskLogon::S4u)).unwrap();
    assert!(
        new.contains(&format!(
            "<UserId>{}</UserId><LogonType>S4U</LogonType>",
            NEW
        )),
        "{}",
        new
    );
    assert!(!new.contains(OLD), "{}", new);
    for kept in [
        "<RunLevel>LeastPrivilege</RunLevel>",
        "<Actions Context=\"Author\">",
        "<Principal id=\"Author\">",
    ] {
        assert!(new.contains(kept), "{} lost: {}", kept, new);
    }
    let group =
        task_principal::with_principal(&xml, "\\t", &principal("S-1-5-32-545", TaskLogon::Group))
            .unwrap();
    assert!(
        group.contains("<GroupId>S-1-5-32-545</GroupId>") && !group.contains("<LogonType>"),
        "{}",
        group
    );
    let none = "<Task><Actions/></Task>";
    let e =
        task_principal::with_principal(none, "\\t", &principal(NEW, TaskLogon::S4u)).unwrap_err();
    assert!(e.to_string().contains("has no Principal"), "{}", e);
}

#[test]
fn a_tasks_principal_is_changed_through_task_scheduler_and_read_back() {
    let task = "\\rehome-test-principal";
    let mut ws = WindowsWorkstation::open();
    task_principal::register(task, &definition(OLD), &principal(OLD, TaskLogon::S4u)).unwrap();
    let changed = ws.set_task_principal(task, &principal(NEW, TaskLogon::S4u));
    let back = task_principal::xml(task);
    let again = ws.set_task_principal(task, &principal(NEW, TaskLogon::S4u));
    let listed = ws.task_principals();
    let _ = std::fs::remove_file(
        std::path::Path::new(&super::system::expand("%SystemRoot%\\System32\\Tasks").unwrap())
            .join("rehome-test-principal"),
    );
    if under_wine() {
        // Wine's Task Scheduler registers the task but writes its definition again without
        // the principal: the change is refused by the read back, naming the call.
        let e = changed.unwrap_err().to_string();
        assert!(
            e.contains("ITaskFolder::RegisterTask") && e.contains("kept no such principal"),
            "{}",
            e
        );
    } else {
        assert!(changed.unwrap());
        let back = back.unwrap();
        assert!(back.contains(NEW) && !back.contains(OLD), "{}", back);
        assert!(!again.unwrap(), "the second change finds nothing to do");
        let listed = listed.unwrap();
        assert!(
            listed
                .iter()
                .any(|(name, p)| name.ends_with("rehome-test-principal")
                    && p == &principal(NEW, TaskLogon::S4u)),
            "{:?}",
            listed
        );
    }
    let e = ws
        .set_task_principal(task, &principal(NEW, TaskLogon::Password))
        .unwrap_err()
        .to_string();
    assert!(e.contains("stored password") && e.contains(task), "{}", e);
}
